//! The module as an application loads it (`libmelli_pkcs11.so` through `cryptoki`), without a
//! card: the function list, initialize/finalize, and what a module with no reader answers.
//! The cards are in the end-to-end tests (`tests/e2e/pkcs11.rs` at the top of the workspace).

use std::path::PathBuf;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Function, Pkcs11};
use cryptoki::error::{Error, RvError};

/// The shared library cargo built beside this test (target/<profile>/libmelli_pkcs11.so).
fn module() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    dir.join("libmelli_pkcs11.so")
}

fn args() -> CInitializeArgs {
    CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)
}

#[test]
fn every_function_of_the_list_is_there_and_answers() {
    // No reader is shown: nothing here may touch a card on this machine.
    std::env::set_var("MELLI_PKCS11_READERS", "no reader has this name");
    let p11 = Pkcs11::new(module()).expect("load the module");
    for f in [
        Function::Initialize,
        Function::Finalize,
        Function::GetInfo,
        Function::GetSlotList,
        Function::GetTokenInfo,
        Function::Login,
        Function::SetPIN,
        Function::InitPIN,
        Function::SignInit,
        Function::SignUpdate,
        Function::SignFinal,
        Function::Encrypt,
        Function::DigestEncryptUpdate,
        Function::WaitForSlotEvent,
        Function::GetFunctionStatus,
        Function::CancelFunction,
    ] {
        assert!(p11.is_fn_supported(f), "{f:?} missing");
    }
    // Before C_Initialize.
    assert!(matches!(
        p11.get_all_slots(),
        Err(Error::Pkcs11(RvError::CryptokiNotInitialized, _))
    ));
    p11.initialize(args()).expect("C_Initialize");
    assert!(matches!(
        p11.initialize(args()),
        Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _))
    ));
    let info = p11.get_library_info().expect("C_GetInfo");
    assert_eq!(
        (
            info.cryptoki_version().major(),
            info.cryptoki_version().minor()
        ),
        (2, 40)
    );
    assert_eq!(info.manufacturer_id(), "melli");
    assert!(p11.get_all_slots().expect("C_GetSlotList").is_empty());
    assert_eq!(p11.get_slot_event().expect("C_WaitForSlotEvent"), None);
    assert!(matches!(
        p11.get_token_info(cryptoki::slot::Slot::try_from(7u64).expect("slot")),
        Err(Error::Pkcs11(RvError::SlotIdInvalid, _))
    ));
    p11.finalize().expect("C_Finalize");

    // Load, initialize and finalize again and again: nothing stays behind.
    for _ in 0..50 {
        let p11 = Pkcs11::new(module()).expect("load the module");
        p11.initialize(args()).expect("C_Initialize");
        p11.get_all_slots().expect("C_GetSlotList");
        p11.finalize().expect("C_Finalize");
    }
}
