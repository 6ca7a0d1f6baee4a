//! The in-band heartbeat's message, `msg_t`, from seed 000's `readn.h`:
//!
//! ```c
//! #define MSG_TYPE1       1       /* application specific msg */
//! #define MSG_TYPE2       2       /* another one */
//! #define MSG_HEARTBEAT   3       /* heartbeat message */
//!
//! typedef struct {                /* message structure */
//!     u_int32_t type;             /* MSG_TYPE1, ... */
//!     char data[ 2000 ];
//! } msg_t;
//! ```
//!
//! On the wire: the type as 4 bytes in network (big-endian) order — the C stores
//! `htonl(MSG_HEARTBEAT)` — then the 2000 data bytes, 2004 bytes in all, no padding. The
//! heartbeat is an ordinary message of the application's own format; that is the point of
//! the "in-band" design, and also its weakness the article names: the heartbeat is mixed
//! into the data.
//!
//! Encoding and decoding copy bytes; there is no `unsafe` cast of a struct over a buffer.
//! (Seed 001's server forgets `htonl` on its reply; this port always uses network order.)

/// An application message (`MSG_TYPE1`).
pub const MSG_TYPE1: u32 = 1;
/// Another application message (`MSG_TYPE2`).
pub const MSG_TYPE2: u32 = 2;
/// The heartbeat (`MSG_HEARTBEAT`).
pub const MSG_HEARTBEAT: u32 = 3;

/// Size of `data` in bytes.
pub const DATA_LEN: usize = 2000;
/// `sizeof(msg_t)`: 2004 bytes on the wire.
pub const MSG_LEN: usize = 4 + DATA_LEN;

/// `msg_t`: a type and 2000 bytes of data.
#[doc(alias = "msg_t")]
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// `MSG_TYPE1`, `MSG_TYPE2`, `MSG_HEARTBEAT` or whatever the peer sent.
    pub msg_type: u32,
    /// The data bytes.
    pub data: [u8; DATA_LEN],
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let used = self.data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        f.debug_struct("Message")
            .field("msg_type", &self.msg_type)
            .field("data_bytes_used", &used)
            .finish()
    }
}

impl Message {
    /// A message of `msg_type` with zeroed data.
    pub fn new(msg_type: u32) -> Self {
        Message {
            msg_type,
            data: [0; DATA_LEN],
        }
    }

    /// A heartbeat (`msg.type = htonl(MSG_HEARTBEAT)`), data zeroed (the C sends whatever
    /// was on its stack).
    pub fn heartbeat() -> Self {
        Message::new(MSG_HEARTBEAT)
    }

    /// The 2004 wire bytes: type big-endian, then the data.
    pub fn encode(&self) -> [u8; MSG_LEN] {
        let mut wire = [0u8; MSG_LEN];
        wire[..4].copy_from_slice(&self.msg_type.to_be_bytes());
        wire[4..].copy_from_slice(&self.data);
        wire
    }

    /// A message from its 2004 wire bytes. Every type value decodes; whether it is known
    /// is the receiver's business (`unknown message type (N)`).
    pub fn decode(wire: &[u8; MSG_LEN]) -> Self {
        let mut data = [0u8; DATA_LEN];
        data.copy_from_slice(&wire[4..]);
        Message {
            msg_type: u32::from_be_bytes([wire[0], wire[1], wire[2], wire[3]]),
            data,
        }
    }

    /// Decode from a slice; `None` unless it is exactly [`MSG_LEN`] bytes.
    pub fn from_slice(wire: &[u8]) -> Option<Self> {
        <&[u8; MSG_LEN]>::try_from(wire).ok().map(Message::decode)
    }

    /// Whether the type is one the article's server knows (1, 2 or 3).
    pub fn is_known(&self) -> bool {
        matches!(self.msg_type, MSG_TYPE1 | MSG_TYPE2 | MSG_HEARTBEAT)
    }
}
