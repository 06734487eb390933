//! The node id: a name (`gossip1`), as memberlist and plumtree both need it.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use bytes::{Buf, BufMut};
use memberlist::proto::{Data, DataRef, DecodeError, EncodeError};
use memberlist_plumtree::discovery::CheapClone;
use memberlist_plumtree::IdCodec;

/// A node's name; cheap to clone.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(pub Arc<str>);

impl Name {
    pub fn new(s: &str) -> Self {
        Self(Arc::from(s))
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl CheapClone for Name {}

impl IdCodec for Name {
    fn encode_id(&self, buf: &mut impl BufMut) {
        let b = self.0.as_bytes();
        buf.put_u32(b.len() as u32);
        buf.put_slice(b);
    }

    fn decode_id(buf: &mut impl Buf) -> Option<Self> {
        if buf.remaining() < 4 {
            return None;
        }
        let len = buf.get_u32() as usize;
        if len > 255 || buf.remaining() < len {
            return None;
        }
        let mut bytes = vec![0u8; len];
        buf.copy_to_slice(&mut bytes);
        String::from_utf8(bytes).ok().map(|s| Name::new(&s))
    }

    fn encoded_id_len(&self) -> usize {
        4 + self.0.len()
    }
}

impl<'a> DataRef<'a, Name> for &'a str {
    fn decode(buf: &'a [u8]) -> Result<(usize, Self), DecodeError> {
        match std::str::from_utf8(buf) {
            Ok(v) => Ok((buf.len(), v)),
            Err(e) => Err(DecodeError::Custom(Cow::Owned(e.to_string()))),
        }
    }
}

impl Data for Name {
    type Ref<'a> = &'a str;

    fn from_ref(val: Self::Ref<'_>) -> Result<Self, DecodeError> {
        Ok(Name::new(val))
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let b = self.0.as_bytes();
        if b.len() > buf.len() {
            return Err(EncodeError::InsufficientBuffer { required: b.len(), remaining: buf.len() });
        }
        buf[..b.len()].copy_from_slice(b);
        Ok(b.len())
    }
}
