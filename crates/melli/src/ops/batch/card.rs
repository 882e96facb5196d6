//! What the batch needs of a card in a reader: its serial, its lifecycle, the tracking code a
//! locked card carries, and a personalization that can be stopped between two steps.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::applet::{Applet, AppletError, Lifecycle};
use crate::model::{Identity, Secret, TrackingCode, ValidRecord};
use crate::ops::personalize::{self, PersonalizeError, Step, Summary};
use crate::pki::Issuer;
use crate::spec::ef;
use crate::transport::{Transport, TransportError};

/// Whether a personalization goes on to its next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Go,
    /// Stop now: send the card nothing more (as if melli were killed).
    Stop,
}

/// A card in a reader, as the batch uses it.
pub trait BatchCard {
    fn serial(&mut self) -> Result<String, AppletError>;
    fn lifecycle(&mut self) -> Result<Lifecycle, AppletError>;
    /// The tracking code written in the card's DG1 (for a card found locked).
    fn tracking_code(&mut self) -> Result<Option<TrackingCode>, AppletError>;
    /// [`personalize::personalize`], with `progress` asked before each step whether to go on.
    fn personalize(
        &mut self,
        record: &ValidRecord,
        issuer: &Issuer,
        pin: &Secret,
        puk: &Secret,
        progress: &mut dyn FnMut(Step) -> Flow,
    ) -> Result<Summary, PersonalizeError>;
}

/// A transport that refuses to send anything once it is told to stop: how a personalization is
/// halted between two steps.
pub struct Interruptible<T> {
    inner: T,
    stopped: Arc<AtomicBool>,
}

impl<T: Transport> Transport for Interruptible<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        if self.stopped.load(Ordering::SeqCst) {
            return Err(TransportError::Pcsc("stopped by melli".to_owned()));
        }
        self.inner.transmit(command)
    }

    fn atr(&self) -> &[u8] {
        self.inner.atr()
    }

    fn reader(&self) -> &str {
        self.inner.reader()
    }
}

/// A melli card behind any transport: the real thing.
pub struct AppletCard<T: Transport> {
    applet: Applet<Interruptible<T>>,
    stopped: Arc<AtomicBool>,
}

impl<T: Transport> AppletCard<T> {
    /// Selects the melli application on the card behind `transport`.
    pub fn open(transport: T) -> Result<Self, AppletError> {
        let stopped = Arc::new(AtomicBool::new(false));
        let applet = Applet::select(Interruptible {
            inner: transport,
            stopped: Arc::clone(&stopped),
        })?;
        Ok(AppletCard { applet, stopped })
    }

    pub fn into_transport(self) -> T {
        self.applet.into_transport().inner
    }
}

impl<T: Transport> BatchCard for AppletCard<T> {
    fn serial(&mut self) -> Result<String, AppletError> {
        self.applet.serial()
    }

    fn lifecycle(&mut self) -> Result<Lifecycle, AppletError> {
        self.applet.lifecycle()
    }

    fn tracking_code(&mut self) -> Result<Option<TrackingCode>, AppletError> {
        let dg1 = self.applet.read_file(ef::IDENTITY)?;
        let identity = Identity::from_dg(&dg1).map_err(|e| AppletError::MalformedBecause {
            what: "DG1 identity",
            source: Box::new(e),
        })?;
        Ok(identity.tracking_code().cloned())
    }

    fn personalize(
        &mut self,
        record: &ValidRecord,
        issuer: &Issuer,
        pin: &Secret,
        puk: &Secret,
        progress: &mut dyn FnMut(Step) -> Flow,
    ) -> Result<Summary, PersonalizeError> {
        let stopped = Arc::clone(&self.stopped);
        let mut each_step = |step: Step| {
            if progress(step) == Flow::Stop {
                stopped.store(true, Ordering::SeqCst);
            }
        };
        personalize::personalize(&mut self.applet, record, issuer, pin, puk, &mut each_step)
    }
}

/// Whether an error means the card went away (pulled, reset, not answering, the reader or the
/// PC/SC service lost) rather than that it answered and said no.
pub fn card_went_away(error: &PersonalizeError) -> bool {
    let transport = match error {
        PersonalizeError::Card {
            source: AppletError::Transport(e),
            ..
        }
        | PersonalizeError::Start(AppletError::Transport(e)) => e,
        _ => return false,
    };
    !matches!(
        transport,
        TransportError::MalformedResponse(_) | TransportError::Encoding(_)
    )
}
