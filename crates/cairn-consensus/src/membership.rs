//! Cluster membership: peer addresses, membership change requests and the snapshot envelope.

use std::collections::BTreeMap;

/// A change to the raft configuration. Servers join as learners and are promoted once caught up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipChange {
    /// Add a non-voting learner at `addr`.
    AddLearner {
        /// Raft id.
        id: u64,
        /// Address the transport reaches it at.
        addr: String,
    },
    /// Make a learner a voter.
    Promote {
        /// Raft id.
        id: u64,
    },
    /// Make a voter a learner.
    Demote {
        /// Raft id.
        id: u64,
    },
    /// Remove a node entirely.
    Remove {
        /// Raft id.
        id: u64,
    },
}

/// Raft id → address of every known member, replicated through the log.
pub type Peers = BTreeMap<u64, String>;

const ENVELOPE_VERSION: u8 = 1;

/// Wrap a state machine snapshot with the peer table, so a node restored from a snapshot
/// knows every member's address.
pub(crate) fn encode_envelope(peers: &Peers, sm_data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(sm_data.len() + 64);
    out.push(ENVELOPE_VERSION);
    out.extend_from_slice(&(peers.len() as u32).to_be_bytes());
    for (id, addr) in peers {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&(addr.len() as u32).to_be_bytes());
        out.extend_from_slice(addr.as_bytes());
    }
    out.extend_from_slice(sm_data);
    out
}

/// Split an envelope into the peer table and the state machine's bytes.
pub(crate) fn decode_envelope(data: &[u8]) -> Result<(Peers, &[u8]), String> {
    let mut cur = Cursor { data, pos: 0 };
    let version = cur.take(1)?[0];
    if version != ENVELOPE_VERSION {
        return Err(format!("unknown snapshot envelope version {version}"));
    }
    let count = u32::from_be_bytes(cur.array()?);
    let mut peers = Peers::new();
    for _ in 0..count {
        let id = u64::from_be_bytes(cur.array()?);
        let len = u32::from_be_bytes(cur.array()?) as usize;
        let addr = std::str::from_utf8(cur.take(len)?)
            .map_err(|e| format!("peer address not UTF-8: {e}"))?;
        peers.insert(id, addr.to_string());
    }
    Ok((peers, &data[cur.pos..]))
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or_else(|| "snapshot envelope truncated".to_string())?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trips_and_rejects_garbage() {
        let mut peers = Peers::new();
        peers.insert(1, "127.0.0.1:8300".into());
        peers.insert(7, "10.0.0.7:8300".into());
        let bytes = encode_envelope(&peers, b"state");
        let (p, sm) = decode_envelope(&bytes).unwrap();
        assert_eq!(p, peers);
        assert_eq!(sm, b"state");
        for cut in 0..bytes.len() - 5 {
            assert!(decode_envelope(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode_envelope(&[9, 0, 0, 0, 0]).is_err());
    }
}
