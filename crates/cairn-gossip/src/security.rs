//! Keyring and AES-GCM encryption as memberlist does it (`security.go`, `keyring.go`).
//!
//! An encrypted payload is `[version][12-byte nonce][ciphertext + 16-byte tag]`. Version 0 pads
//! the plaintext with PKCS#7 to a 16-byte multiple first (memberlist protocol 1); version 1 does
//! not. Packets carry no associated data; streams are framed `[10][u32 BE length][payload]` and
//! authenticate those five header bytes. The receiver tries every key in its keyring.

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::AesGcm;

use crate::error::{Error, Result};
use crate::wire::MessageType;

const VERSION_SIZE: usize = 1;
const NONCE_SIZE: usize = 12;
const TAG_SIZE: usize = 16;
const BLOCK_SIZE: usize = 16;

/// Worst-case bytes encryption adds to a message, by version (used to budget piggy-backing).
pub fn encrypt_overhead(version: u8) -> usize {
    if version == 0 {
        VERSION_SIZE + NONCE_SIZE + BLOCK_SIZE + TAG_SIZE
    } else {
        VERSION_SIZE + NONCE_SIZE + TAG_SIZE
    }
}

/// Length of the encrypted form of `len` plaintext bytes.
pub fn encrypted_len(version: u8, len: usize) -> usize {
    if version >= 1 {
        VERSION_SIZE + NONCE_SIZE + len + TAG_SIZE
    } else {
        VERSION_SIZE + NONCE_SIZE + len + (BLOCK_SIZE - len % BLOCK_SIZE) + TAG_SIZE
    }
}

/// An ordered set of gossip keys; the first is the primary, used to encrypt.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Keyring {
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({} keys)", self.keys.len())
    }
}

/// Checks a key is 16, 24 or 32 bytes (AES-128/192/256).
pub fn validate_key(key: &[u8]) -> Result<()> {
    match key.len() {
        16 | 24 | 32 => Ok(()),
        _ => Err(Error::Keyring("key size must be 16, 24 or 32 bytes".into())),
    }
}

impl Keyring {
    /// A keyring with `primary` first, then `others` (duplicates dropped).
    pub fn new(primary: &[u8], others: &[Vec<u8>]) -> Result<Self> {
        validate_key(primary)?;
        let mut k = Keyring {
            keys: vec![primary.to_vec()],
        };
        for o in others {
            k.install(o)?;
        }
        Ok(k)
    }

    /// Adds a key (not primary). Installing a key twice is a no-op.
    pub fn install(&mut self, key: &[u8]) -> Result<()> {
        validate_key(key)?;
        if !self.keys.iter().any(|k| k == key) {
            self.keys.push(key.to_vec());
        }
        Ok(())
    }

    /// Makes an installed key the primary.
    pub fn use_key(&mut self, key: &[u8]) -> Result<()> {
        let pos = self
            .keys
            .iter()
            .position(|k| k == key)
            .ok_or_else(|| Error::Keyring("Requested key is not in the keyring".into()))?;
        let k = self.keys.remove(pos);
        self.keys.insert(0, k);
        Ok(())
    }

    /// Removes a key; the primary cannot be removed.
    pub fn remove(&mut self, key: &[u8]) -> Result<()> {
        if self.keys.first().map(|k| k.as_slice()) == Some(key) {
            return Err(Error::Keyring(
                "Removing the primary key is not allowed".into(),
            ));
        }
        self.keys.retain(|k| k != key);
        Ok(())
    }

    /// All keys, primary first.
    pub fn keys(&self) -> &[Vec<u8>] {
        &self.keys
    }

    /// The primary key.
    pub fn primary(&self) -> Option<&[u8]> {
        self.keys.first().map(|k| k.as_slice())
    }

    /// Encrypts a UDP payload with the primary key.
    pub fn encrypt_packet(&self, version: u8, msg: &[u8], nonce: [u8; 12]) -> Result<Vec<u8>> {
        let key = self
            .primary()
            .ok_or(Error::Keyring("empty keyring".into()))?;
        let mut out = Vec::with_capacity(encrypted_len(version, msg.len()));
        seal(version, key, msg, &[], nonce, &mut out)?;
        Ok(out)
    }

    /// Decrypts a UDP payload with whichever key works.
    pub fn decrypt_packet(&self, buf: &[u8]) -> Result<Vec<u8>> {
        open(&self.keys, buf, &[])
    }

    /// Encrypts a stream message: `[10][u32 BE length][payload]`.
    pub fn encrypt_stream(&self, version: u8, msg: &[u8], nonce: [u8; 12]) -> Result<Vec<u8>> {
        let key = self
            .primary()
            .ok_or(Error::Keyring("empty keyring".into()))?;
        let len = encrypted_len(version, msg.len());
        let mut out = Vec::with_capacity(5 + len);
        out.push(MessageType::Encrypt as u8);
        out.extend_from_slice(&(len as u32).to_be_bytes());
        let header: [u8; 5] = [out[0], out[1], out[2], out[3], out[4]];
        seal(version, key, msg, &header, nonce, &mut out)?;
        Ok(out)
    }

    /// Decrypts a complete encrypted stream frame (starting with the `10` type byte).
    pub fn decrypt_stream(&self, frame: &[u8]) -> Result<Vec<u8>> {
        if frame.len() < 5 || frame[0] != MessageType::Encrypt as u8 {
            return Err(Error::Decrypt("not an encrypted stream frame"));
        }
        let len = u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]) as usize;
        if frame.len() < 5 + len {
            return Err(Error::Truncated);
        }
        open(&self.keys, &frame[5..5 + len], &frame[..5])
    }
}

fn seal(
    version: u8,
    key: &[u8],
    msg: &[u8],
    aad: &[u8],
    nonce: [u8; 12],
    out: &mut Vec<u8>,
) -> Result<()> {
    out.push(version);
    out.extend_from_slice(&nonce);
    let padded;
    let plain = if version == 0 {
        let pad = BLOCK_SIZE - msg.len() % BLOCK_SIZE;
        let mut p = Vec::with_capacity(msg.len() + pad);
        p.extend_from_slice(msg);
        p.resize(msg.len() + pad, pad as u8);
        padded = p;
        &padded[..]
    } else {
        msg
    };
    let ct = gcm_seal(key, &nonce, plain, aad)?;
    out.extend_from_slice(&ct);
    Ok(())
}

fn open(keys: &[Vec<u8>], buf: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let (&version, _) = buf
        .split_first()
        .ok_or(Error::Decrypt("Cannot decrypt empty payload"))?;
    if version > 1 {
        return Err(Error::Decrypt("Unsupported encryption version"));
    }
    if buf.len() < encrypted_len(version, 0) {
        return Err(Error::Decrypt("Payload is too small to decrypt"));
    }
    let nonce = &buf[VERSION_SIZE..VERSION_SIZE + NONCE_SIZE];
    let ct = &buf[VERSION_SIZE + NONCE_SIZE..];
    for key in keys {
        if let Ok(mut plain) = gcm_open(key, nonce, ct, aad) {
            if version == 0 {
                let pad = *plain.last().ok_or(Error::Decrypt("empty padded payload"))? as usize;
                if pad == 0 || pad > plain.len() {
                    return Err(Error::Decrypt("bad padding"));
                }
                plain.truncate(plain.len() - pad);
            }
            return Ok(plain);
        }
    }
    Err(Error::Decrypt(
        "No installed keys could decrypt the message",
    ))
}

fn gcm_seal(key: &[u8], nonce: &[u8], plain: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let payload = Payload { msg: plain, aad };
    let nonce = aes_gcm::Nonce::<U12>::from_slice(nonce);
    let bad = |_| Error::Keyring("encryption failed".into());
    match key.len() {
        16 => AesGcm::<Aes128, U12>::new_from_slice(key)
            .map_err(|_| Error::Keyring("bad key".into()))?
            .encrypt(nonce, payload)
            .map_err(bad),
        24 => AesGcm::<Aes192, U12>::new_from_slice(key)
            .map_err(|_| Error::Keyring("bad key".into()))?
            .encrypt(nonce, payload)
            .map_err(bad),
        32 => AesGcm::<Aes256, U12>::new_from_slice(key)
            .map_err(|_| Error::Keyring("bad key".into()))?
            .encrypt(nonce, payload)
            .map_err(bad),
        _ => Err(Error::Keyring("key size must be 16, 24 or 32 bytes".into())),
    }
}

fn gcm_open(key: &[u8], nonce: &[u8], ct: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let payload = Payload { msg: ct, aad };
    let nonce = aes_gcm::Nonce::<U12>::from_slice(nonce);
    let bad = |_| Error::Decrypt("authentication failed");
    match key.len() {
        16 => AesGcm::<Aes128, U12>::new_from_slice(key)
            .map_err(|_| Error::Decrypt("bad key"))?
            .decrypt(nonce, payload)
            .map_err(bad),
        24 => AesGcm::<Aes192, U12>::new_from_slice(key)
            .map_err(|_| Error::Decrypt("bad key"))?
            .decrypt(nonce, payload)
            .map_err(bad),
        32 => AesGcm::<Aes256, U12>::new_from_slice(key)
            .map_err(|_| Error::Decrypt("bad key"))?
            .decrypt(nonce, payload)
            .map_err(bad),
        _ => Err(Error::Decrypt("bad key size")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_all_key_sizes_and_versions() {
        for len in [16, 24, 32] {
            let ring = Keyring::new(&vec![7u8; len], &[]).unwrap();
            for version in [0u8, 1] {
                for msg in [&b""[..], b"hello", &[3u8; 33]] {
                    let p = ring.encrypt_packet(version, msg, [1; 12]).unwrap();
                    assert_eq!(p.len(), encrypted_len(version, msg.len()));
                    assert_eq!(ring.decrypt_packet(&p).unwrap(), msg);
                    let s = ring.encrypt_stream(version, msg, [2; 12]).unwrap();
                    assert_eq!(ring.decrypt_stream(&s).unwrap(), msg);
                }
            }
        }
    }

    #[test]
    fn wrong_key_and_tampering_are_refused() {
        let a = Keyring::new(&[1u8; 16], &[]).unwrap();
        let b = Keyring::new(&[2u8; 16], &[]).unwrap();
        let p = a.encrypt_packet(1, b"secret", [0; 12]).unwrap();
        assert!(b.decrypt_packet(&p).is_err());
        let mut t = p.clone();
        *t.last_mut().unwrap() ^= 1;
        assert!(a.decrypt_packet(&t).is_err());
        assert!(a.decrypt_packet(&[]).is_err());
        assert!(a.decrypt_packet(&[1, 2, 3]).is_err());
        // A keyring holding both keys decrypts either.
        let both = Keyring::new(&[2u8; 16], &[vec![1u8; 16]]).unwrap();
        assert_eq!(both.decrypt_packet(&p).unwrap(), b"secret");
    }

    #[test]
    fn keyring_management() {
        let mut k = Keyring::new(&[1u8; 16], &[]).unwrap();
        k.install(&[2u8; 16]).unwrap();
        k.install(&[2u8; 16]).unwrap();
        assert_eq!(k.keys().len(), 2);
        assert!(k.install(&[0u8; 5]).is_err());
        assert!(k.remove(&[1u8; 16]).is_err());
        k.use_key(&[2u8; 16]).unwrap();
        assert_eq!(k.primary(), Some(&[2u8; 16][..]));
        k.remove(&[1u8; 16]).unwrap();
        assert_eq!(k.keys().len(), 1);
        assert!(k.use_key(&[9u8; 16]).is_err());
    }
}
