//! Bearer secrets (user tokens, console sessions, CSRF tokens): random from the OS-seeded
//! CSPRNG, stored only as SHA-256, compared in constant time.

use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `prefix` then `len` random alphanumerics (log2(62) ≈ 5.95 bits each).
pub fn generate(prefix: &str, len: usize) -> String {
    format!(
        "{prefix}{}",
        Alphanumeric.sample_string(&mut rand::rng(), len)
    )
}

/// The hex SHA-256 of a secret, what the tables keep.
pub fn hash(secret: &str) -> String {
    friction_schema::hex(&Sha256::digest(secret.as_bytes()))
}

/// Whether two secrets (or hashes) are equal, in time that does not depend on where they
/// differ.
pub fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_random_and_compared_whole() {
        let (a, b) = (generate("x_", 32), generate("x_", 32));
        assert_eq!(a.len(), 34);
        assert!(a.starts_with("x_") && a != b);
        assert_eq!(hash(&a).len(), 64);
        assert!(same(&hash(&a), &hash(&a)));
        assert!(!same(&hash(&a), &hash(&b)));
        assert!(!same("abc", "ab"));
    }
}
