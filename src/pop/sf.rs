//! Structured field values (RFC 9651), the subset DBSC's headers use: items with
//! parameters, and lists of items and inner lists. Strict: anything RFC 9651 says to fail
//! on is [`ProofError::Malformed`], and a field longer than [`MAX_FIELD_LEN`] is refused
//! before it is read.

use super::ProofError;

/// The longest field value read, in bytes.
pub const MAX_FIELD_LEN: usize = 8192;

/// A bare item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BareItem {
    /// `"..."`, unescaped.
    String(String),
    /// A token (`ES256`, `quota_exceeded`, ...).
    Token(String),
    /// An integer (at most 15 digits).
    Integer(i64),
    /// A decimal, as written (at most 12 integer and 3 fractional digits).
    Decimal(String),
    /// `?1` or `?0`.
    Boolean(bool),
    /// `:...:`, decoded.
    ByteSequence(Vec<u8>),
}

impl BareItem {
    /// The text of a string or a token.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            BareItem::String(s) | BareItem::Token(s) => Some(s),
            _ => None,
        }
    }
}

/// An item and its parameters, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The value.
    pub bare: BareItem,
    /// The parameters (a later one of the same name replaces an earlier one).
    pub params: Vec<(String, BareItem)>,
}

impl Item {
    /// The parameter named `key`.
    pub fn param(&self, key: &str) -> Option<&BareItem> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// A member of a list: an item, or an inner list with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    /// A single item.
    Item(Item),
    /// `( item item ... );params`.
    InnerList(Vec<Item>, Vec<(String, BareItem)>),
}

impl Member {
    /// The parameter named `key` of this member.
    pub fn param(&self, key: &str) -> Option<&BareItem> {
        let params = match self {
            Member::Item(item) => &item.params,
            Member::InnerList(_, params) => params,
        };
        params.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

struct Parser<'a> {
    input: &'a [u8],
    at: usize,
}

const BAD: ProofError = ProofError::Malformed;

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Result<Self, ProofError> {
        if input.len() > MAX_FIELD_LEN {
            return Err(ProofError::Oversized);
        }
        Ok(Parser {
            input: input.as_bytes(),
            at: 0,
        })
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.at).copied()
    }

    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    fn done(&self) -> bool {
        self.at >= self.input.len()
    }

    fn item(&mut self) -> Result<Item, ProofError> {
        let bare = self.bare()?;
        let params = self.params()?;
        Ok(Item { bare, params })
    }

    fn bare(&mut self) -> Result<BareItem, ProofError> {
        match self.peek().ok_or(BAD)? {
            b'-' | b'0'..=b'9' => self.number(),
            b'"' => self.string().map(BareItem::String),
            b':' => self.bytes(),
            b'?' => self.boolean(),
            c if c.is_ascii_alphabetic() || c == b'*' => Ok(BareItem::Token(self.token())),
            _ => Err(BAD),
        }
    }

    fn number(&mut self) -> Result<BareItem, ProofError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let digits_start = self.at;
        let mut dot = None;
        while let Some(c) = self.peek() {
            match c {
                b'0'..=b'9' => self.at += 1,
                b'.' if dot.is_none() => {
                    dot = Some(self.at);
                    self.at += 1;
                }
                _ => break,
            }
        }
        let text = std::str::from_utf8(&self.input[start..self.at]).map_err(|_| BAD)?;
        match dot {
            None => {
                let digits = self.at - digits_start;
                if digits == 0 || digits > 15 {
                    return Err(BAD);
                }
                text.parse().map(BareItem::Integer).map_err(|_| BAD)
            }
            Some(dot) => {
                let (int, frac) = (dot - digits_start, self.at - dot - 1);
                if int == 0 || int > 12 || frac == 0 || frac > 3 {
                    return Err(BAD);
                }
                Ok(BareItem::Decimal(text.to_owned()))
            }
        }
    }

    fn string(&mut self) -> Result<String, ProofError> {
        self.at += 1; // the opening quote
        let mut out = String::new();
        loop {
            let c = self.peek().ok_or(BAD)?;
            self.at += 1;
            match c {
                b'\\' => {
                    let next = self.peek().ok_or(BAD)?;
                    if next != b'"' && next != b'\\' {
                        return Err(BAD);
                    }
                    out.push(next as char);
                    self.at += 1;
                }
                b'"' => return Ok(out),
                0x20..=0x7e => out.push(c as char),
                _ => return Err(BAD),
            }
        }
    }

    fn token(&mut self) -> String {
        let start = self.at;
        while let Some(c) = self.peek() {
            if is_tchar(c) || c == b':' || c == b'/' {
                self.at += 1;
            } else {
                break;
            }
        }
        // ASCII by construction.
        String::from_utf8_lossy(&self.input[start..self.at]).into_owned()
    }

    fn bytes(&mut self) -> Result<BareItem, ProofError> {
        use base64::Engine as _;
        self.at += 1;
        let start = self.at;
        while let Some(c) = self.peek() {
            if c == b':' {
                break;
            }
            if !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=')) {
                return Err(BAD);
            }
            self.at += 1;
        }
        if self.peek() != Some(b':') {
            return Err(BAD);
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&self.input[start..self.at])
            .map_err(|_| BAD)?;
        self.at += 1;
        Ok(BareItem::ByteSequence(decoded))
    }

    fn boolean(&mut self) -> Result<BareItem, ProofError> {
        self.at += 1;
        let value = match self.peek() {
            Some(b'1') => true,
            Some(b'0') => false,
            _ => return Err(BAD),
        };
        self.at += 1;
        Ok(BareItem::Boolean(value))
    }

    fn key(&mut self) -> Result<String, ProofError> {
        let start = self.at;
        match self.peek() {
            Some(c) if c.is_ascii_lowercase() || c == b'*' => {}
            _ => return Err(BAD),
        }
        while let Some(c) = self.peek() {
            if c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || matches!(c, b'_' | b'-' | b'.' | b'*')
            {
                self.at += 1;
            } else {
                break;
            }
        }
        Ok(String::from_utf8_lossy(&self.input[start..self.at]).into_owned())
    }

    fn params(&mut self) -> Result<Vec<(String, BareItem)>, ProofError> {
        let mut params: Vec<(String, BareItem)> = Vec::new();
        while self.peek() == Some(b';') {
            self.at += 1;
            self.skip_sp();
            let key = self.key()?;
            let value = if self.peek() == Some(b'=') {
                self.at += 1;
                self.bare()?
            } else {
                BareItem::Boolean(true)
            };
            match params.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => params.push((key, value)),
            }
        }
        Ok(params)
    }

    fn member(&mut self) -> Result<Member, ProofError> {
        if self.peek() != Some(b'(') {
            return self.item().map(Member::Item);
        }
        self.at += 1;
        let mut items = Vec::new();
        loop {
            self.skip_sp();
            if self.peek() == Some(b')') {
                self.at += 1;
                let params = self.params()?;
                return Ok(Member::InnerList(items, params));
            }
            items.push(self.item()?);
            match self.peek() {
                Some(b' ' | b')') => {}
                _ => return Err(BAD),
            }
        }
    }
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// Parses an item field (a bare item and its parameters).
///
/// # Errors
/// [`ProofError::Oversized`] past [`MAX_FIELD_LEN`], [`ProofError::Malformed`] for anything
/// that is not one item.
pub fn parse_item(input: &str) -> Result<Item, ProofError> {
    let mut parser = Parser::new(input)?;
    parser.skip_sp();
    let item = parser.item()?;
    parser.skip_sp();
    if !parser.done() {
        return Err(BAD);
    }
    Ok(item)
}

/// Parses a list field.
///
/// # Errors
/// As [`parse_item`].
pub fn parse_list(input: &str) -> Result<Vec<Member>, ProofError> {
    let mut parser = Parser::new(input)?;
    parser.skip_sp();
    let mut members = Vec::new();
    while !parser.done() {
        members.push(parser.member()?);
        parser.skip_ows();
        if parser.done() {
            break;
        }
        if parser.peek() != Some(b',') {
            return Err(BAD);
        }
        parser.at += 1;
        parser.skip_ows();
        if parser.done() {
            return Err(BAD);
        }
    }
    Ok(members)
}

/// `text` as an sf-string (`"..."`, with `"` and `\` escaped); `None` when it holds a
/// character an sf-string cannot (outside printable ASCII).
pub fn string(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => return None,
        }
    }
    out.push('"');
    Some(out)
}

/// A value that browsers send either bare or as an sf-string (`Secure-Session-Response`,
/// `Sec-Secure-Session-Id`: Chromium sends them bare): the string's contents when it is
/// one, else the trimmed value itself, which must then be visible ASCII without quotes.
///
/// # Errors
/// [`ProofError::Oversized`] past [`MAX_FIELD_LEN`], [`ProofError::Malformed`].
pub fn bare_or_string(input: &str) -> Result<String, ProofError> {
    if input.len() > MAX_FIELD_LEN {
        return Err(ProofError::Oversized);
    }
    let trimmed = input.trim_matches(' ');
    if trimmed.starts_with('"') {
        let item = parse_item(trimmed)?;
        return match item.bare {
            BareItem::String(s) if item.params.is_empty() => Ok(s),
            _ => Err(BAD),
        };
    }
    if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_graphic() && b != b'"') {
        return Err(BAD);
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_lists_and_strings_follow_rfc_9651() {
        let item = parse_item(r#""a\"b\\c";id="s-1""#).expect("an item");
        assert_eq!(item.bare, BareItem::String(r#"a"b\c"#.into()));
        assert_eq!(item.param("id"), Some(&BareItem::String("s-1".into())));
        let list = parse_list(r#"(ES256 RS256);path="/r";challenge="c", x;a=?0"#).expect("list");
        assert_eq!(list.len(), 2);
        for bad in [
            r#"(ES256;path="/r""#,
            r#""unterminated"#,
            "a,",
            "a b",
            r#""\x""#,
            "1234567890123456",
            "(a)b",
        ] {
            assert!(parse_list(bad).is_err(), "{bad}");
        }
        assert_eq!(string(r#"a"b"#).as_deref(), Some(r#""a\"b""#));
        assert_eq!(bare_or_string(" abc.def ").as_deref(), Ok("abc.def"));
        assert_eq!(bare_or_string(r#""abc""#).as_deref(), Ok("abc"));
        assert!(bare_or_string("a\"b").is_err());
    }
}
