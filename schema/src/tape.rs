//! A simd-json tape and scratch buffers reused from one message to the next, so parsing
//! a batch (ingest) or an envelope (consumers) allocates nothing once warm.

use simd_json::tape::Tape;

/// Tape nodes kept for the next message: a usual batch needs a few thousand, and one
/// huge body must not leave megabytes behind on every thread that parsed it.
const KEPT_NODES: usize = 1 << 16;

/// What simd-json needs to parse, kept between messages.
pub(crate) struct Reused {
    buffers: simd_json::Buffers,
    tape: Tape<'static>,
}

impl Default for Reused {
    fn default() -> Self {
        Reused {
            buffers: simd_json::Buffers::default(),
            tape: Tape(Vec::new()),
        }
    }
}

impl Reused {
    /// Parses `input` in place (`Err(invalid)` when it is not JSON) and gives its tape to
    /// `read`; the tape is kept for the next message unless it grew past [`KEPT_NODES`].
    pub(crate) fn parse<'a, T, E>(
        &mut self,
        input: &'a mut [u8],
        invalid: E,
        read: impl FnOnce(&Tape<'a>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut tape = std::mem::replace(&mut self.tape, Tape(Vec::new())).reset();
        let out = match simd_json::fill_tape(input, &mut self.buffers, &mut tape) {
            Ok(()) => read(&tape),
            Err(_) => Err(invalid),
        };
        if tape.0.capacity() <= KEPT_NODES {
            self.tape = tape.reset();
        }
        out
    }

    /// Tape nodes kept, for tests.
    #[cfg(test)]
    pub(crate) fn kept_nodes(&self) -> usize {
        self.tape.0.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_usual_tape_and_drops_a_huge_one() {
        let mut reused = Reused::default();
        let mut small = br#"{"a":[1,2,3]}"#.to_vec();
        assert_eq!(reused.parse(&mut small, (), |t| Ok(t.0.len())), Ok(6));
        assert!(reused.kept_nodes() >= 6);
        let mut bad = b"{".to_vec();
        assert_eq!(
            reused.parse(&mut bad, "invalid", |_| Ok(())),
            Err("invalid")
        );
        assert!(reused.kept_nodes() >= 6, "kept across an invalid message");
        let mut huge = format!("[{}]", vec!["1"; 100_000].join(",")).into_bytes();
        assert!(reused.parse(&mut huge, (), |_| Ok(())).is_ok());
        assert_eq!(reused.kept_nodes(), 0);
    }
}
