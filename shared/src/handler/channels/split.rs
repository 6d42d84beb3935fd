//! Splitting text over a channel's length limit: at a line break if one is
//! in the second half of the chunk, else at a space, else mid-word. Counts
//! characters, not bytes, so no character is ever cut in two.

/// Parts of at most `limit` characters each, in order, none empty.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(1);
    let mut parts = Vec::new();
    let mut rest: Vec<char> = text.chars().collect();
    while rest.len() > limit {
        let chunk = &rest[..limit];
        let cut = last_break(chunk, '\n')
            .or_else(|| last_break_where(chunk, char::is_whitespace))
            .filter(|&i| i >= limit / 2);
        let (take, skip) = match cut {
            Some(i) => (i, i + 1),
            None => (limit, limit),
        };
        let part: String = rest[..take].iter().collect();
        if !part.trim().is_empty() {
            parts.push(part);
        }
        rest.drain(..skip);
    }
    let last: String = rest.into_iter().collect();
    if !last.trim().is_empty() || parts.is_empty() {
        parts.push(last);
    }
    parts
}

fn last_break(chunk: &[char], c: char) -> Option<usize> {
    chunk.iter().rposition(|&x| x == c)
}

fn last_break_where(chunk: &[char], f: impl Fn(char) -> bool) -> Option<usize> {
    chunk.iter().rposition(|&x| f(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split("hello", 10), vec!["hello"]);
        assert_eq!(split("", 10), vec![""]);
    }

    #[test]
    fn prefers_line_breaks_then_spaces_then_hard_cuts() {
        assert_eq!(
            split("aaaa bbbb\ncccc dddd", 12),
            vec!["aaaa bbbb", "cccc dddd"]
        );
        assert_eq!(split("aaaa bbbb cccc", 10), vec!["aaaa bbbb", "cccc"]);
        assert_eq!(split("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
    }

    #[test]
    fn never_exceeds_the_limit_and_keeps_every_word() {
        let text = "Ünïcödé wörds ".repeat(300);
        for limit in [7, 50, 2000] {
            let parts = split(&text, limit);
            assert!(parts.iter().all(|p| p.chars().count() <= limit));
            let joined: Vec<&str> = parts.iter().flat_map(|p| p.split_whitespace()).collect();
            assert_eq!(joined, text.split_whitespace().collect::<Vec<_>>());
        }
    }
}
