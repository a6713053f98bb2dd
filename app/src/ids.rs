//! The ids the server hands the pages: whose session, which user, which
//! script. Each is a UUID in its own type, so a user id cannot be passed
//! where a script id belongs.
//!
//! The app only reads ids (from the session, from a page's address) and
//! shows them; the server makes them. They read and print as a UUID's
//! usual hyphenated form, and travel as one in JSON.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// The UUID it wraps.
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(text).map(Self)
            }
        }
    };
}

uuid_id! {
    /// An account.
    UserId
}

uuid_id! {
    /// One signed-in browser of an account.
    SessionId
}

uuid_id! {
    /// A saved signal script.
    ScriptId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_and_print_as_uuids() {
        let text = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        let id: ScriptId = text.parse().unwrap();
        assert_eq!(id.to_string(), text);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{text}\""));
        assert_eq!(
            serde_json::from_str::<ScriptId>(&format!("\"{text}\"")).unwrap(),
            id
        );
        assert!("not-an-id".parse::<UserId>().is_err());
        assert_eq!(UserId::from(id.uuid()).uuid(), Uuid::from(id));
    }
}
