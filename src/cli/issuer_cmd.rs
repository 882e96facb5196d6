//! `melli issuer init` and `melli issuer new-document-signer`: making the issuer.

use std::process::ExitCode;

use melli::display::escaped;
use melli::pki::issuer::default_root_dir;
use melli::pki::{InitOptions, Issuer, RootCa, LAYOUT};
use std::time::SystemTime;

use crate::cli::issuer_keys;
use crate::cli::Failure;

pub fn issuer_init(args: &issuer_keys::InitArgs) -> Result<ExitCode, Failure> {
    let (store, root_store) = args.stores();
    let root_dir = args
        .root_dir
        .clone()
        .unwrap_or_else(|| default_root_dir(&args.dir));
    let options = InitOptions {
        store,
        root_dir,
        root_store,
    };
    let issuer = Issuer::init(&args.dir, &options, &mut issuer_keys::secret)
        .map_err(|e| Failure::bad_input(escaped(&e.to_string())))?;
    println!(
        "made an issuer in {}: keys in {}",
        escaped(&args.dir.display().to_string()),
        escaped(&issuer.store().describe())
    );
    println!(
        "the root CA's key is in {} ({}): personalization never needs it; keep it offline",
        escaped(&options.root_dir.display().to_string()),
        escaped(&options.root_store.describe())
    );
    if args.insecure_plain_keys {
        eprintln!("warning: the keys are in plain files (--insecure-plain-keys): for tests only");
    }
    println!("{LAYOUT}");
    Ok(ExitCode::SUCCESS)
}

pub fn new_document_signer(args: &issuer_keys::NewSignerArgs) -> Result<ExitCode, Failure> {
    let mut issuer = issuer_keys::load_issuer(&args.dir)?;
    let root_dir = args
        .root_dir
        .clone()
        .unwrap_or_else(|| default_root_dir(&args.dir));
    let root = RootCa::load(&root_dir, &mut issuer_keys::secret)
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let not_before = args.not_before.unwrap_or_else(SystemTime::now);
    let not_after = args
        .not_after
        .unwrap_or(not_before + melli::pki::issuer::CA_VALIDITY);
    if not_after <= not_before {
        return Err(Failure::bad_input("--not-after must be after --not-before"));
    }
    root.issue_document_signer(&mut issuer, not_before, not_after, &mut issuer_keys::secret)
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let validity = &issuer
        .document_signer_certificate()
        .tbs_certificate
        .validity;
    println!(
        "new document signer for {}: valid {} to {}, key in {}",
        args.dir.display(),
        validity.not_before,
        validity.not_after,
        issuer.store().describe()
    );
    Ok(ExitCode::SUCCESS)
}
