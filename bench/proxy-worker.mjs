// The trivial proxy: the floor one-balance is compared with. Same runtime, same upstream, nothing else.
export default {
  fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.UPSTREAM + url.pathname + url.search, request);
  },
};
