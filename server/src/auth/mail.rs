//! Mail: the verification and password-reset links.
//!
//! With `INCHART_SMTP_URL` set, mail goes through lettre's SMTP client
//! (STARTTLS or TLS as the URL says). Without it (local development) mail
//! is not sent: the link is written to the log, and the pages say so.
//! Mail is sent in the background, so how long a request takes never tells
//! whether an account exists.

use anyhow::Context;
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    /// No SMTP server: links go to the log.
    Log,
}

/// One message to one person.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// The link the message is for, logged when mail is off.
    pub link: String,
    /// A one-click unsubscribe link (RFC 8058), for mail a trader asked
    /// for (alerts), sent as `List-Unsubscribe`.
    pub unsubscribe: Option<String>,
}

/// What the SMTP server said to a message.
#[derive(Debug, Clone)]
pub enum MailAnswer {
    /// Accepted: "250 2.0.0 Ok: queued as …".
    Accepted(String),
    /// Mail is off (no `INCHART_SMTP_URL`): the message went to the log.
    Logged,
    /// A transient refusal or no connection: worth trying again.
    Transient(String),
    /// A permanent refusal (a 5xx).
    Permanent(String),
}

impl Mailer {
    pub fn new(smtp_url: Option<&SecretString>, from: &str) -> anyhow::Result<Self> {
        let Some(url) = smtp_url else {
            tracing::warn!(
                "INCHART_SMTP_URL is not set: mail is not sent, its links are written to this log"
            );
            return Ok(Mailer::Log);
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            .context("INCHART_SMTP_URL must look like smtp://user:password@host:587?tls=required")?
            .build();
        let from = from
            .parse()
            .with_context(|| format!("INCHART_MAIL_FROM is not a mailbox (got {from:?})"))?;
        Ok(Mailer::Smtp { transport, from })
    }

    /// Whether mail really goes out.
    pub fn sends(&self) -> bool {
        matches!(self, Mailer::Smtp { .. })
    }

    /// Sends `mail` in the background; a failure is logged.
    pub fn send_later(&self, mail: Mail) {
        let mailer = self.clone();
        tokio::spawn(async move {
            if let Err(error) = mailer.send(&mail).await {
                tracing::error!(
                    error = format!("{error:#}"),
                    subject = mail.subject,
                    "mail not sent"
                );
            }
        });
    }

    /// Sends `mail` now and answers what the server said, for mail whose
    /// delivery is recorded (alerts).
    pub async fn send_with_answer(&self, mail: &Mail) -> MailAnswer {
        let Mailer::Smtp { transport, from } = self else {
            tracing::info!(
                subject = mail.subject,
                link = mail.link,
                "mail is off (no INCHART_SMTP_URL)"
            );
            return MailAnswer::Logged;
        };
        let message = match build(from, mail) {
            Ok(message) => message,
            Err(error) => return MailAnswer::Permanent(format!("{error:#}")),
        };
        match transport.send(message).await {
            Ok(response) => MailAnswer::Accepted(
                format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                )
                .trim()
                .to_string(),
            ),
            Err(error) if error.is_permanent() => MailAnswer::Permanent(error.to_string()),
            Err(error) => MailAnswer::Transient(error.to_string()),
        }
    }

    pub async fn send(&self, mail: &Mail) -> anyhow::Result<()> {
        match self {
            Mailer::Log => {
                tracing::info!(
                    subject = mail.subject,
                    link = mail.link,
                    "mail is off (no INCHART_SMTP_URL); the link it would carry"
                );
                Ok(())
            }
            Mailer::Smtp { transport, from } => {
                let message = build(from, mail)?;
                transport
                    .send(message)
                    .await
                    .context("while handing the message to the SMTP server")?;
                tracing::info!(subject = mail.subject, "mail sent");
                Ok(())
            }
        }
    }
}

fn build(from: &Mailbox, mail: &Mail) -> anyhow::Result<Message> {
    let mut builder = Message::builder()
        .from(from.clone())
        .to(mail.to.parse().context("while reading the recipient")?)
        .subject(&mail.subject)
        .header(ContentType::TEXT_PLAIN);
    if let Some(link) = &mail.unsubscribe {
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{link}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_string(),
            ));
    }
    builder
        .body(mail.body.clone())
        .context("while building the message")
}
