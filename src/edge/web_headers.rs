//! A web `Headers` object read by name, as the pure modules' [`HeaderLookup`] (the classifier, the credentials
//! parser, the guess limit).

use crate::verdict::HeaderLookup;
use web_sys::Headers;

/// A web `Headers` as a [`HeaderLookup`].
pub struct WebHeaders<'a>(pub &'a Headers);

impl HeaderLookup for WebHeaders<'_> {
    fn header(&self, name: &str) -> Option<String> {
        self.0.get(name).ok().flatten()
    }
}
