//! The snapshot file `GET /v1/snapshot` returns and `PUT /v1/snapshot` and
//! `cairn snapshot restore|inspect` read: a magic line, the raft index it was taken at, a
//! checksum, then the catalog snapshot. Cairn's own format (Consul's tar archive carries
//! hashicorp/raft internals that mean nothing here).

use crate::error::CatalogError;

const MAGIC: &[u8; 11] = b"CAIRN-SNAP\n";

/// What a snapshot file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSummary {
    /// Raft index the snapshot was taken at.
    pub index: u64,
    /// Size of the catalog data in bytes.
    pub size: usize,
    /// Catalog snapshot format version.
    pub version: u8,
    /// Registered nodes.
    pub nodes: usize,
    /// Service instances.
    pub services: usize,
    /// Health checks.
    pub checks: usize,
    /// KV entries (tombstones excluded).
    pub kv_entries: usize,
    /// Sessions.
    pub sessions: usize,
}

fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Wrap catalog snapshot `data` taken at `index` into a snapshot file.
pub fn write_archive(data: &[u8], index: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 16 + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&index.to_be_bytes());
    out.extend_from_slice(&fnv1a(data).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// The index and catalog data of a snapshot file, after checking its magic and checksum.
pub fn read_archive(file: &[u8]) -> Result<(u64, &[u8]), CatalogError> {
    let bad = |why: &str| CatalogError::Snapshot(format!("not a cairn snapshot: {why}"));
    let rest = file
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| bad("bad header"))?;
    if rest.len() < 16 {
        return Err(bad("truncated"));
    }
    let (head, data) = rest.split_at(16);
    let index = u64::from_be_bytes(head[..8].try_into().map_err(|_| bad("truncated"))?);
    let sum = u64::from_be_bytes(head[8..].try_into().map_err(|_| bad("truncated"))?);
    if fnv1a(data) != sum {
        return Err(bad("checksum mismatch (damaged or truncated file)"));
    }
    Ok((index, data))
}

/// Decode a snapshot file fully and count what it holds.
pub fn inspect_archive(file: &[u8]) -> Result<SnapshotSummary, CatalogError> {
    let (index, data) = read_archive(file)?;
    let state = crate::snapshot::decode(data)?;
    Ok(SnapshotSummary {
        index,
        size: data.len(),
        version: data.first().copied().unwrap_or(0),
        nodes: state.nodes.len(),
        services: state.services.values().map(|m| m.len()).sum(),
        checks: state.checks.values().map(|m| m.len()).sum(),
        kv_entries: state.kv.len(),
        sessions: state.sessions.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let file = write_archive(b"\x01payload", 42);
        assert_eq!(read_archive(&file).unwrap(), (42, &b"\x01payload"[..]));
        let mut bad = file.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(read_archive(&bad)
            .unwrap_err()
            .to_string()
            .contains("checksum"));
        assert!(read_archive(b"hello").is_err());
        assert!(read_archive(&file[..MAGIC.len() + 3]).is_err());
    }
}
