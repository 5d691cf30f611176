//! The answer converter JavaScript drives: a converted request's upstream 2xx body goes through it chunk by chunk
//! on its way to the client (`convertThrough` in `relay.js` pulls the upstream body and hands each chunk to
//! [`Converter::push`], and lets held bytes out when [`Converter::wait_ms`] says). Every decision — which event a
//! chunk completes, what the client's bytes are, when they are written, how a cut stream ends — is
//! [`crate::protocols::AnswerConverter`]'s; this is its wasm-bindgen face, which reads the clock for it.
//!
//! One converter per answer, created by `Forwarding::answered` (`forward.rs`) when a success arrives; JavaScript
//! frees it when the answer ends or the client goes away.

use crate::convert::Reply;
use crate::edge::clock;
use crate::protocols::{AnswerConverter, Conversion};
use wasm_bindgen::prelude::*;

/// What the client is told when the upstream connection breaks during an answer.
const CUT_MESSAGE: &str = "the upstream connection was cut before the answer was complete";

/// One converted answer in progress.
#[wasm_bindgen]
pub struct Converter {
    inner: AnswerConverter,
}

impl Converter {
    /// A converter for `conversion`'s answer, answering as `reply` says.
    pub fn new(conversion: &Conversion, reply: Reply) -> Converter {
        Converter { inner: AnswerConverter::new(conversion, reply) }
    }
}

#[wasm_bindgen]
impl Converter {
    /// The next bytes of the upstream body; returns the client bytes to write now (often none: an event not yet
    /// complete, or one held because the last write was too recent).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.inner.push(chunk, clock::now_ms())
    }

    /// In how many ms [`Converter::flush`] should let the held bytes out; `undefined` when none are held.
    #[wasm_bindgen(js_name = waitMs)]
    pub fn wait_ms(&self) -> Option<u32> {
        self.inner.wait_ms(clock::now_ms()).map(|ms| u32::try_from(ms).unwrap_or(u32::MAX))
    }

    /// The held bytes, to write now.
    pub fn flush(&mut self) -> Vec<u8> {
        self.inner.flush(clock::now_ms())
    }

    /// The upstream body ended; returns the rest of the client's answer.
    pub fn finish(&mut self) -> Vec<u8> {
        self.inner.finish()
    }

    /// The upstream body broke off; returns the client's error ending.
    pub fn abort(&mut self) -> Vec<u8> {
        self.inner.abort(CUT_MESSAGE)
    }
}
