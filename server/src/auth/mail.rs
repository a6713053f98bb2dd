//! Mail: the verification and password-reset links.
//!
//! With `INCHART_SMTP_URL` set, mail goes through lettre's SMTP client
//! (STARTTLS or TLS as the URL says). Without it (local development) mail
//! is not sent: the link is written to the log, and the pages say so.
//! Mail is sent in the background, so how long a request takes never tells
//! whether an account exists.

use anyhow::Context;
use lettre::message::{Mailbox, header::ContentType};
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
                let message = Message::builder()
                    .from(from.clone())
                    .to(mail.to.parse().context("while reading the recipient")?)
                    .subject(&mail.subject)
                    .header(ContentType::TEXT_PLAIN)
                    .body(mail.body.clone())
                    .context("while building the message")?;
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
