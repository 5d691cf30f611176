# The fast mock upstream (bench only). Filled in by bench/run.mjs: @DIR@ (a scratch dir under bench/out),
# @PORT@, @RL_KEY@ (the pool key that always gets a 429) and @RL_BODY@ (Gemini's per-minute 429 body, one line);
# @ROT_PORT@ and @ROT_BODY@ for the rotation-cost mock (a 429 to a random half of the requests, whatever the key).
# Run in the foreground by the bench, never as the system service.
daemon off;
master_process on;
worker_processes 1;
pid @DIR@/nginx.pid;
error_log @DIR@/error.log warn;

events {
  worker_connections 4096;
}

http {
  # One line per answer, status only (never a key): the bench counts them to prove each answer went upstream once.
  log_format bench '$status';
  access_log @DIR@/access.log bench buffer=32k flush=100ms;
  client_body_temp_path @DIR@/client_body;
  proxy_temp_path @DIR@/proxy;
  fastcgi_temp_path @DIR@/fastcgi;
  uwsgi_temp_path @DIR@/uwsgi;
  scgi_temp_path @DIR@/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_buffer_size 256k; # the 100 KB body row: read in memory, never a temp file
  server_tokens off;

  map $http_x_goog_api_key $bench_rate_limited {
    default 0;
    "@RL_KEY@" 1;
  }

  server {
    listen 127.0.0.1:@PORT@ reuseport backlog=4096;
    default_type application/json;
    location / {
      if ($bench_rate_limited) {
        return 429 '@RL_BODY@';
      }
      return 200 '{"candidates":[{"content":{"parts":[{"text":"Hello from the bench mock."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":6,"totalTokenCount":10},"modelVersion":"gemini-2.5-flash"}';
    }
  }

  # The rotation-cost mock: a random half of the requests (split on nginx's random request id, whatever the key)
  # get Gemini's per-minute 429 body without RetryInfo and `Retry-After: 0`, a rate limit that cools the key for no
  # time at all, so every request keeps meeting 429s at the same rate for as long as the run lasts.
  split_clients "${request_id}" $bench_rotate {
    50% 1;
    * 0;
  }

  server {
    listen 127.0.0.1:@ROT_PORT@ reuseport backlog=4096;
    default_type application/json;
    location / {
      if ($bench_rotate) {
        add_header Retry-After 0 always;
        return 429 '@ROT_BODY@';
      }
      return 200 '{"candidates":[{"content":{"parts":[{"text":"Hello from the bench mock."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":6,"totalTokenCount":10},"modelVersion":"gemini-2.5-flash"}';
    }
  }
}
