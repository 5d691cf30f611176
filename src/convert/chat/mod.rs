//! The OpenAI Chat Completions shapes both converters share: the request they build ([`request`], with tool
//! schemas cleaned by [`schema`]), and the completion and stream chunks they read ([`completion`]).
//!
//! The request side is written with `Serialize` structs holding only fields every target provider accepts, because
//! Gemini's OpenAI endpoint answers 400 to any field it does not know. The reading side is lenient in the way
//! providers differ: any field may be missing or `null`, counts may be floats, `content` may be a string or an
//! array of parts, tool-call `arguments` may be a string or (from some providers) an object, and `index` on
//! streamed tool calls may be absent (Gemini). DeepSeek's `prompt_cache_hit_tokens` counts as cached tokens.

mod completion;
mod request;
mod schema;

pub(crate) use completion::{arguments_object, Completion, Usage};
pub(crate) use request::{FileData, Messages, Part, Request, Tool};
