//! A local SMTP sink: a mail server that accepts every message (RFC 5321:
//! EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT) and
//! keeps it for the test to read, instead of delivering it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent: headers, a blank line, the encoded body.
    pub data: String,
}

impl Received {
    /// A header's value (the first of that name), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(value) = value.as_mut() {
                    value.push_str(line.trim_start());
                }
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((field, rest)) = line.split_once(':')
                && field.eq_ignore_ascii_case(name)
            {
                value = Some(rest.trim().to_string());
            }
        }
        value
    }

    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The body, decoded from its transfer encoding.
    pub fn text(&self) -> String {
        let body = self.data.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        match self
            .header("Content-Transfer-Encoding")
            .map(|encoding| encoding.to_ascii_lowercase())
            .as_deref()
        {
            Some("quoted-printable") => decode_quoted_printable(body),
            Some("base64") => decode_base64(body),
            _ => body.to_string(),
        }
    }

    /// The first link in the body.
    pub fn link(&self) -> Option<String> {
        let text = self.text();
        let start = text.find("http://").or_else(|| text.find("https://"))?;
        Some(
            text[start..]
                .split(char::is_whitespace)
                .next()
                .unwrap_or_default()
                .to_string(),
        )
    }
}

/// The sink, listening on 127.0.0.1 until dropped.
pub struct SmtpSink {
    address: SocketAddr,
    inbox: Arc<Inbox>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Inbox {
    messages: Mutex<Vec<Received>>,
    arrived: Notify,
}

impl SmtpSink {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let inbox = Arc::new(Inbox::default());
        let accepting = inbox.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let inbox = accepting.clone();
                tokio::spawn(async move {
                    if let Err(error) = session(stream, &inbox).await {
                        tracing::debug!(%error, "SMTP session ended");
                    }
                });
            }
        });
        Ok(Self { address, inbox, task })
    }

    /// `smtp://127.0.0.1:<port>`: plain SMTP, as `INCHART_SMTP_URL` takes it.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.address)
    }

    pub fn messages(&self) -> Vec<Received> {
        lock(&self.inbox.messages).clone()
    }

    /// The messages sent to `address`, oldest first.
    pub fn messages_to(&self, address: &str) -> Vec<Received> {
        self.messages()
            .into_iter()
            .filter(|message| message.to.iter().any(|to| to.eq_ignore_ascii_case(address)))
            .collect()
    }

    /// Waits up to `limit` for the `count`th message to `address` (1 is
    /// the first) and returns it.
    pub async fn wait_for(&self, address: &str, count: usize, limit: Duration) -> Option<Received> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let arrived = self.inbox.arrived.notified();
            if let Some(message) = self.messages_to(address).into_iter().nth(count.saturating_sub(1)) {
                return Some(message);
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return None;
            }
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn session(stream: TcpStream, inbox: &Inbox) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.inchart.test ESMTP ready\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink.inchart.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 10485760\r\n",
            "HELO" => b"250 sink.inchart.test\r\n",
            "MAIL" => {
                from = address_in(&command);
                to.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                to.push(address_in(&command));
                b"250 OK\r\n"
            }
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                    data.push_str(unstuffed);
                }
                lock(&inbox.messages).push(Received {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data,
                });
                inbox.arrived.notify_waiters();
                b"250 OK: queued\r\n"
            }
            "RSET" => {
                to.clear();
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 Command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// `MAIL FROM:<a@b> SIZE=1` → `a@b`.
fn address_in(command: &str) -> String {
    match (command.find('<'), command.find('>')) {
        (Some(start), Some(end)) if start < end => command[start + 1..end].to_string(),
        _ => String::new(),
    }
}

fn decode_quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Some(byte) = joined
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn decode_base64(body: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in body.bytes() {
        let Some(value) = ALPHABET.iter().position(|&c| c == byte) else {
            continue;
        };
        buffer = (buffer << 6) | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_encodings_decode() {
        assert_eq!(decode_quoted_printable("a=3Db=\r\nc"), "a=bc");
        assert_eq!(decode_base64("aGVsbG8g\r\nd29ybGQ="), "hello world");
    }

    #[tokio::test]
    async fn a_message_sent_over_smtp_is_kept() {
        let sink = SmtpSink::start().await.unwrap();
        let stream = TcpStream::connect(sink.address).await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        lines.next_line().await.unwrap();
        for command in ["EHLO me", "MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "DATA"] {
            write
                .write_all(format!("{command}\r\n").as_bytes())
                .await
                .unwrap();
            loop {
                let reply = lines.next_line().await.unwrap().unwrap();
                if reply.as_bytes().get(3) != Some(&b'-') {
                    break;
                }
            }
        }
        write
            .write_all(b"Subject: Hi\r\n\r\n..dotted\r\nsee http://x.test/a?b=1 now\r\n.\r\nQUIT\r\n")
            .await
            .unwrap();
        let message = sink
            .wait_for("b@y.test", 1, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(message.from, "a@x.test");
        assert_eq!(message.subject(), "Hi");
        assert!(message.text().starts_with(".dotted"));
        assert_eq!(message.link().as_deref(), Some("http://x.test/a?b=1"));
    }
}
