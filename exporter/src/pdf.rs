//! HTML to PDF with wkhtmltopdf, spawned as a child process (Debian ships no library to
//! link): the page goes in on stdin, the PDF comes out on stdout, within a timeout, and a
//! render that overruns is killed.

use std::process::Stdio;
use std::time::Duration;

use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// Rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The binary could not be started.
    #[error("cannot run {0}: {1} (install wkhtmltopdf)")]
    Spawn(String, std::io::Error),
    /// It ran past the timeout and was killed.
    #[error("rendering took longer than {} s", .0.as_secs())]
    Timeout(Duration),
    /// It failed.
    #[error("wkhtmltopdf failed: {0}")]
    Failed(String),
}

/// Renders `html` to a PDF.
pub async fn render(binary: &str, html: &str, timeout: Duration) -> Result<Vec<u8>, PdfError> {
    let mut child = Command::new(binary)
        .args(["--quiet", "--encoding", "utf-8", "--page-size", "A4"])
        .args(["--margin-top", "14mm", "--margin-bottom", "14mm"])
        .args(["--margin-left", "12mm", "--margin-right", "12mm", "-", "-"])
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| PdfError::Spawn(binary.to_owned(), e))?;
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(PdfError::Failed("no pipes to the child".into()));
    };
    let page = html.as_bytes().to_vec();
    let work = async move {
        let write = async move {
            stdin.write_all(&page).await?;
            stdin.shutdown().await
        };
        let mut pdf = Vec::new();
        let mut errors = Vec::new();
        let (written, read, _) = tokio::join!(
            write,
            stdout.read_to_end(&mut pdf),
            stderr.read_to_end(&mut errors)
        );
        let status = child.wait().await;
        (written, read, status, pdf, errors)
    };
    let (written, read, status, pdf, errors) = tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| PdfError::Timeout(timeout))?;
    let failed = |why: String| PdfError::Failed(why);
    written.map_err(|e| failed(format!("writing the page: {e}")))?;
    read.map_err(|e| failed(format!("reading the PDF: {e}")))?;
    let status = status.map_err(|e| failed(e.to_string()))?;
    if !status.success() || !pdf.starts_with(b"%PDF") {
        let detail = String::from_utf8_lossy(&errors);
        return Err(failed(format!("{status}: {}", detail.trim())));
    }
    Ok(pdf)
}

/// Pages of a PDF: its `/Type /Page` objects (not `/Pages`, the tree above them).
pub fn pages(pdf: &[u8]) -> u32 {
    memmem::find_iter(pdf, b"/Type /Page")
        .filter(|&at| pdf.get(at + 11) != Some(&b's'))
        .count() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_page_objects_only() {
        let pdf = b"%PDF /Type /Pages /Count 2 /Type /Page\n /Type /Page>>";
        assert_eq!(pages(pdf), 2);
    }
}
