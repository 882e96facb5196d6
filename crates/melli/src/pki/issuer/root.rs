//! The root CA, from its own directory: needed only to issue a document signer.

use super::*;

/// The root CA: its certificate and key, from the root directory.
pub struct RootCa {
    dir: PathBuf,
    pub(super) cert: Certificate,
    pub(super) key: AnyKey,
}

impl fmt::Debug for RootCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootCa")
            .field("dir", &self.dir)
            .field("root", &cert::label(&self.cert))
            .field("key", &self.key)
            .finish()
    }
}

impl RootCa {
    /// Opens the root directory `dir` (asking `unlock` for the token PIN or passphrase).
    pub fn load(dir: &Path, unlock: Unlock<'_>) -> Result<RootCa, PkiError> {
        let config = read_config(&dir.join(files::ROOT_CONFIG), ROOT_FORMAT)?;
        let cert = read_certificate(&dir.join(files::ROOT_CERT))?;
        let store = OpenStore::open(&config.keys, dir, "root", SecretPurpose::Open, unlock)?;
        let key = store.ec_key_of(&cert, files::ROOT_CERT, ROOT_CN, files::ROOT_KEY)?;
        Ok(RootCa {
            dir: dir.to_path_buf(),
            cert,
            key,
        })
    }

    /// The root certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The root's CRL (document signers and the signing CA of `issuer`), valid from `now` for
    /// `next_update`; DER.
    pub fn crl(
        &self,
        issuer: &Issuer,
        now: SystemTime,
        next_update: Duration,
    ) -> Result<Vec<u8>, PkiError> {
        self.check_root_of(issuer)?;
        issuer
            .ensure_database()?
            .crl(&self.cert, &self.key, false, now, next_update)
    }

    fn check_root_of(&self, issuer: &Issuer) -> Result<(), PkiError> {
        if issuer.root_cert != self.cert {
            return Err(PkiError::bad_file(
                issuer.dir.join(files::ROOT_CERT),
                format!(
                    "this issuer's root is not the root in {}",
                    self.dir.display()
                ),
            ));
        }
        Ok(())
    }

    /// Gives `issuer` a new document signer: a new key in the issuer's store and a
    /// certificate valid from `not_before` to `not_after`, issued by this root; the
    /// certificate (and, for file stores, the key file) replace the old ones (each written to
    /// a temporary file with its final mode, then renamed). A validity in the past makes an
    /// expired document signer for tests.
    pub fn issue_document_signer(
        &self,
        issuer: &mut Issuer,
        not_before: SystemTime,
        not_after: SystemTime,
        unlock: Unlock<'_>,
    ) -> Result<(), PkiError> {
        self.check_root_of(issuer)?;
        let store = match &issuer.token {
            Some(token) => OpenStore::Token(Arc::clone(token)),
            None => OpenStore::open(
                &issuer.store,
                &issuer.dir,
                "issuer",
                SecretPurpose::Open,
                unlock,
            )?,
        };
        let key = store.new_ec_key(DOCUMENT_SIGNER_CN, files::DOCUMENT_SIGNER_KEY, true)?;
        let cert = document_signer_certificate(
            &self.cert,
            &self.key,
            &key,
            (not_before, not_after),
            &issuer.urls,
        )?;
        issuer.record_issued(&cert, None)?;
        replace_file(
            &issuer.dir,
            files::DOCUMENT_SIGNER_CERT,
            cert::to_pem(&cert)?.as_bytes(),
            0o644,
        )?;
        issuer.document_signer_key = key;
        issuer.document_signer_cert = cert;
        Ok(())
    }
}
