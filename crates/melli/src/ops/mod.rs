//! The user-facing jobs, one file each: they combine the applet, the model and the PKI, and
//! report progress through callbacks; they never print or prompt.

pub mod auth_token;
pub mod batch;
pub mod login;
pub mod ocsp_embed;
pub mod pdf;
pub mod personalize;
pub mod pin_mailer;
pub mod read;
pub mod sign;
pub mod timestamp;
pub mod verify;
