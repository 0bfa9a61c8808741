//! Known bots: crawlers and monitors are answered 200 and dropped, so they neither fill
//! the tables nor look like friction.

use aho_corasick::AhoCorasick;

/// Recognises crawlers and monitoring bots by user-agent tokens. Headless browsers are
/// not bots here: customers test their own sites with them.
pub struct BotDetector(AhoCorasick);

const BOT_TOKENS: &[&str] = &[
    "googlebot",
    "bingbot",
    "yandexbot",
    "baiduspider",
    "duckduckbot",
    "slurp",
    "applebot",
    "facebookexternalhit",
    "twitterbot",
    "linkedinbot",
    "ahrefsbot",
    "semrushbot",
    "mj12bot",
    "petalbot",
    "gptbot",
    "ccbot",
    "bytespider",
    "adsbot",
    "mediapartners-google",
    "dotbot",
    "uptimerobot",
    "pingdom",
    "lighthouse",
    "python-requests",
    "go-http-client",
    "crawler",
    "spider",
    "bot/",
    "bot;",
    "+http",
];

impl Default for BotDetector {
    fn default() -> Self {
        let matcher = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(BOT_TOKENS)
            .expect("static bot token list builds");
        BotDetector(matcher)
    }
}

impl BotDetector {
    /// Whether the user agent belongs to a known bot.
    pub fn is_bot(&self, user_agent: &str) -> bool {
        self.0.is_match(user_agent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spots_bots_but_not_browsers() {
        let bots = BotDetector::default();
        assert!(
            bots.is_bot("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
        );
        assert!(bots.is_bot("Mozilla/5.0 (compatible; AhrefsBot/7.0)"));
        assert!(bots.is_bot("python-requests/2.32.3"));
        assert!(bots.is_bot("Go-http-client/1.1"));
        assert!(bots.is_bot(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Chrome-Lighthouse"
        ));
        assert!(!bots.is_bot("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0 Safari/537.36"));
        assert!(!bots.is_bot("Mozilla/5.0 (Linux; Android 12; Cubot X30) Mobile Safari/537.36"));
    }
}
