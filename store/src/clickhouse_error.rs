//! ClickHouse error codes, read once from the server's message (`Code: 53. DB::...`) and
//! classified: what retrying can fix, what it never will, and what means "already there".

/// The server's error code, when the error is an answer of the server.
pub fn code(e: &clickhouse::error::Error) -> Option<u32> {
    match e {
        clickhouse::error::Error::BadResponse(msg) => msg
            .strip_prefix("Code: ")
            .and_then(|rest| rest.split('.').next())
            .and_then(|code| code.parse().ok()),
        _ => None,
    }
}

/// Codes that mean the data will never be accepted: type mismatch, cannot parse, too
/// large, illegal value...
const PERMANENT: &[u32] = &[6, 26, 27, 32, 33, 38, 41, 53, 69, 70, 72, 117, 130, 131];

/// Whether retrying cannot help (the data itself is refused). Network errors, timeouts,
/// overload and a table being migrated are all worth retrying.
pub fn is_permanent(e: &clickhouse::error::Error) -> bool {
    code(e).is_some_and(|c| PERMANENT.contains(&c))
}

/// Whether the error says the database or table already exists (codes 57 and 82): two
/// runners racing on `CREATE ... IF NOT EXISTS` can still see it.
pub fn is_already_exists(e: &clickhouse::error::Error) -> bool {
    matches!(code(e), Some(57 | 82))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clickhouse::error::Error;

    #[test]
    fn classifies_by_error_code() {
        let bad = Error::BadResponse("Code: 53. DB::Exception: Type mismatch".into());
        assert!(is_permanent(&bad));
        let missing = Error::BadResponse("Code: 60. DB::Exception: Unknown table".into());
        assert!(!is_permanent(&missing));
        assert!(!is_permanent(&Error::TimedOut));
        assert!(is_already_exists(&Error::BadResponse(
            "Code: 57. DB::Exception: Table already exists".into()
        )));
        assert_eq!(code(&Error::TimedOut), None);
    }
}
