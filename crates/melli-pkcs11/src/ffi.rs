//! The C entry points: every function of the PKCS#11 v2.40 function list, and the only
//! `unsafe` of the crate. Each one checks its pointers, copies what it is given into Rust
//! values, calls the safe code of `module.rs` inside `catch_unwind` (a panic never crosses
//! into the application: it becomes `CKR_GENERAL_ERROR`), and writes the answer back.
//!
//! # Safety (for every function here)
//! The caller follows PKCS#11: each pointer is either null or valid for the length given with
//! it (a `CK_ULONG` count of elements or bytes) for the duration of the call, and output
//! pointers are writable. Null pointers are refused with `CKR_ARGUMENTS_BAD` where PKCS#11
//! does not give them a meaning.
#![allow(non_snake_case, clippy::missing_safety_doc)]

use std::os::raw::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use cryptoki_sys::*;

use crate::module::{self, Rv, SignStep, CK_UNAVAILABLE_INFORMATION, SIGNATURE_LEN};
use crate::objects::Value;

/// Runs `f`, turning a panic into `CKR_GENERAL_ERROR`.
fn guard(f: impl FnOnce() -> Result<(), Rv>) -> CK_RV {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => CKR_OK,
        Ok(Err(rv)) => rv,
        Err(_) => CKR_GENERAL_ERROR,
    }
}

/// The bytes at `p`, `len` of them.
unsafe fn bytes<'a>(p: *const u8, len: CK_ULONG) -> Result<&'a [u8], Rv> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: not null, and valid for `len` bytes by the caller's contract (module docs).
    Ok(unsafe { std::slice::from_raw_parts(p, len as usize) })
}

/// Writes `value` to `p`.
unsafe fn put<T>(p: *mut T, value: T) -> Result<(), Rv> {
    if p.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: not null, and writable by the caller's contract; `T` is a plain C type.
    unsafe { p.write(value) };
    Ok(())
}

/// The usual PKCS#11 list answer: the count alone when `p` is null, else the items if they fit.
unsafe fn put_list<T: Copy>(items: &[T], p: *mut T, count: *mut CK_ULONG) -> Result<(), Rv> {
    if count.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: `count` is not null and points at a CK_ULONG (caller's contract).
    let room = unsafe { *count } as usize;
    // SAFETY: as above.
    unsafe { *count = items.len() as CK_ULONG };
    if p.is_null() {
        return Ok(());
    }
    if room < items.len() {
        return Err(CKR_BUFFER_TOO_SMALL);
    }
    // SAFETY: `p` holds at least `room >= items.len()` elements (caller's contract).
    unsafe { std::ptr::copy_nonoverlapping(items.as_ptr(), p, items.len()) };
    Ok(())
}

/// A template: `count` attributes at `p`.
unsafe fn template<'a>(
    p: *const CK_ATTRIBUTE,
    count: CK_ULONG,
) -> Result<&'a mut [CK_ATTRIBUTE], Rv> {
    if count == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: not null and valid for `count` attributes (caller's contract).
    Ok(unsafe { std::slice::from_raw_parts_mut(p as *mut CK_ATTRIBUTE, count as usize) })
}

/// The mechanism type at `p` (its parameters are not used: neither ECDSA mechanism has one).
unsafe fn mechanism(p: *const CK_MECHANISM) -> Result<CK_MECHANISM_TYPE, Rv> {
    if p.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: not null and a valid CK_MECHANISM (caller's contract).
    Ok(unsafe { (*p).mechanism })
}

// ---------------------------------------------------------------------------------------------
// General purpose
// ---------------------------------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn C_Initialize(pInitArgs: *mut c_void) -> CK_RV {
    guard(|| {
        if !pInitArgs.is_null() {
            // SAFETY: a non-null argument is a CK_C_INITIALIZE_ARGS (PKCS#11 §5.4).
            let args = unsafe { &*(pInitArgs as *const CK_C_INITIALIZE_ARGS) };
            if !args.pReserved.is_null() {
                return Err(CKR_ARGUMENTS_BAD);
            }
            let given = [
                args.CreateMutex.is_some(),
                args.DestroyMutex.is_some(),
                args.LockMutex.is_some(),
                args.UnlockMutex.is_some(),
            ];
            if given.iter().any(|g| *g) && !given.iter().all(|g| *g) {
                return Err(CKR_ARGUMENTS_BAD);
            }
            // The module locks with the operating system's primitives only.
            if given[0] && args.flags & CKF_OS_LOCKING_OK == 0 {
                return Err(CKR_CANT_LOCK);
            }
        }
        module::initialize()
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_Finalize(pReserved: *mut c_void) -> CK_RV {
    guard(|| {
        if !pReserved.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        module::finalize()
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetInfo(pInfo: *mut CK_INFO) -> CK_RV {
    guard(|| unsafe { put(pInfo, module::info()?) })
}

/// The function list, PKCS#11 v2.40.
static FUNCTION_LIST: CK_FUNCTION_LIST = CK_FUNCTION_LIST {
    version: CK_VERSION {
        major: 2,
        minor: 40,
    },
    C_Initialize: Some(C_Initialize),
    C_Finalize: Some(C_Finalize),
    C_GetInfo: Some(C_GetInfo),
    C_GetFunctionList: Some(C_GetFunctionList),
    C_GetSlotList: Some(C_GetSlotList),
    C_GetSlotInfo: Some(C_GetSlotInfo),
    C_GetTokenInfo: Some(C_GetTokenInfo),
    C_GetMechanismList: Some(C_GetMechanismList),
    C_GetMechanismInfo: Some(C_GetMechanismInfo),
    C_InitToken: Some(C_InitToken),
    C_InitPIN: Some(C_InitPIN),
    C_SetPIN: Some(C_SetPIN),
    C_OpenSession: Some(C_OpenSession),
    C_CloseSession: Some(C_CloseSession),
    C_CloseAllSessions: Some(C_CloseAllSessions),
    C_GetSessionInfo: Some(C_GetSessionInfo),
    C_GetOperationState: Some(C_GetOperationState),
    C_SetOperationState: Some(C_SetOperationState),
    C_Login: Some(C_Login),
    C_Logout: Some(C_Logout),
    C_CreateObject: Some(C_CreateObject),
    C_CopyObject: Some(C_CopyObject),
    C_DestroyObject: Some(C_DestroyObject),
    C_GetObjectSize: Some(C_GetObjectSize),
    C_GetAttributeValue: Some(C_GetAttributeValue),
    C_SetAttributeValue: Some(C_SetAttributeValue),
    C_FindObjectsInit: Some(C_FindObjectsInit),
    C_FindObjects: Some(C_FindObjects),
    C_FindObjectsFinal: Some(C_FindObjectsFinal),
    C_EncryptInit: Some(C_EncryptInit),
    C_Encrypt: Some(C_Encrypt),
    C_EncryptUpdate: Some(C_EncryptUpdate),
    C_EncryptFinal: Some(C_EncryptFinal),
    C_DecryptInit: Some(C_DecryptInit),
    C_Decrypt: Some(C_Decrypt),
    C_DecryptUpdate: Some(C_DecryptUpdate),
    C_DecryptFinal: Some(C_DecryptFinal),
    C_DigestInit: Some(C_DigestInit),
    C_Digest: Some(C_Digest),
    C_DigestUpdate: Some(C_DigestUpdate),
    C_DigestKey: Some(C_DigestKey),
    C_DigestFinal: Some(C_DigestFinal),
    C_SignInit: Some(C_SignInit),
    C_Sign: Some(C_Sign),
    C_SignUpdate: Some(C_SignUpdate),
    C_SignFinal: Some(C_SignFinal),
    C_SignRecoverInit: Some(C_SignRecoverInit),
    C_SignRecover: Some(C_SignRecover),
    C_VerifyInit: Some(C_VerifyInit),
    C_Verify: Some(C_Verify),
    C_VerifyUpdate: Some(C_VerifyUpdate),
    C_VerifyFinal: Some(C_VerifyFinal),
    C_VerifyRecoverInit: Some(C_VerifyRecoverInit),
    C_VerifyRecover: Some(C_VerifyRecover),
    C_DigestEncryptUpdate: Some(C_DigestEncryptUpdate),
    C_DecryptDigestUpdate: Some(C_DecryptDigestUpdate),
    C_SignEncryptUpdate: Some(C_SignEncryptUpdate),
    C_DecryptVerifyUpdate: Some(C_DecryptVerifyUpdate),
    C_GenerateKey: Some(C_GenerateKey),
    C_GenerateKeyPair: Some(C_GenerateKeyPair),
    C_WrapKey: Some(C_WrapKey),
    C_UnwrapKey: Some(C_UnwrapKey),
    C_DeriveKey: Some(C_DeriveKey),
    C_SeedRandom: Some(C_SeedRandom),
    C_GenerateRandom: Some(C_GenerateRandom),
    C_GetFunctionStatus: Some(C_GetFunctionStatus),
    C_CancelFunction: Some(C_CancelFunction),
    C_WaitForSlotEvent: Some(C_WaitForSlotEvent),
};

#[no_mangle]
pub unsafe extern "C" fn C_GetFunctionList(ppFunctionList: *mut *mut CK_FUNCTION_LIST) -> CK_RV {
    // The list is never written through the pointer handed out (PKCS#11 calls it read-only).
    guard(|| unsafe {
        put(
            ppFunctionList,
            &FUNCTION_LIST as *const _ as *mut CK_FUNCTION_LIST,
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Slots and tokens
// ---------------------------------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn C_GetSlotList(
    tokenPresent: CK_BBOOL,
    pSlotList: *mut CK_SLOT_ID,
    pulCount: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        let slots = module::slot_list(tokenPresent != CK_FALSE)?;
        unsafe { put_list(&slots, pSlotList, pulCount) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetSlotInfo(slotID: CK_SLOT_ID, pInfo: *mut CK_SLOT_INFO) -> CK_RV {
    guard(|| unsafe { put(pInfo, module::slot_info(slotID)?) })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetTokenInfo(slotID: CK_SLOT_ID, pInfo: *mut CK_TOKEN_INFO) -> CK_RV {
    guard(|| unsafe { put(pInfo, module::token_info(slotID)?) })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetMechanismList(
    slotID: CK_SLOT_ID,
    pMechanismList: *mut CK_MECHANISM_TYPE,
    pulCount: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        let list = module::mechanism_list(slotID)?;
        unsafe { put_list(&list, pMechanismList, pulCount) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetMechanismInfo(
    slotID: CK_SLOT_ID,
    type_: CK_MECHANISM_TYPE,
    pInfo: *mut CK_MECHANISM_INFO,
) -> CK_RV {
    guard(|| unsafe { put(pInfo, module::mechanism_info(slotID, type_)?) })
}

#[no_mangle]
pub unsafe extern "C" fn C_InitToken(
    _slotID: CK_SLOT_ID,
    _pPin: *mut CK_UTF8CHAR,
    _ulPinLen: CK_ULONG,
    _pLabel: *mut CK_UTF8CHAR,
) -> CK_RV {
    // Only the issuer personalizes a card, over its secure channel.
    guard(|| {
        module::module()?;
        Err(CKR_TOKEN_WRITE_PROTECTED)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_InitPIN(
    hSession: CK_SESSION_HANDLE,
    pPin: *mut CK_UTF8CHAR,
    ulPinLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let pin = unsafe { bytes(pPin, ulPinLen)? };
        module::init_pin(hSession, pin)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_SetPIN(
    hSession: CK_SESSION_HANDLE,
    pOldPin: *mut CK_UTF8CHAR,
    ulOldLen: CK_ULONG,
    pNewPin: *mut CK_UTF8CHAR,
    ulNewLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let old = unsafe { bytes(pOldPin, ulOldLen)? };
        let new = unsafe { bytes(pNewPin, ulNewLen)? };
        module::set_pin(hSession, old, new)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_WaitForSlotEvent(
    flags: CK_FLAGS,
    pSlot: *mut CK_SLOT_ID,
    pReserved: *mut c_void,
) -> CK_RV {
    guard(|| {
        if !pReserved.is_null() || pSlot.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let slot = module::wait_for_slot_event(flags & CKF_DONT_BLOCK == 0)?;
        unsafe { put(pSlot, slot) }
    })
}

// ---------------------------------------------------------------------------------------------
// Sessions and login
// ---------------------------------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn C_OpenSession(
    slotID: CK_SLOT_ID,
    flags: CK_FLAGS,
    _pApplication: *mut c_void,
    _Notify: CK_NOTIFY,
    phSession: *mut CK_SESSION_HANDLE,
) -> CK_RV {
    guard(|| {
        if phSession.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let session = module::open_session(slotID, flags)?;
        unsafe { put(phSession, session) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_CloseSession(hSession: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| module::close_session(hSession))
}

#[no_mangle]
pub unsafe extern "C" fn C_CloseAllSessions(slotID: CK_SLOT_ID) -> CK_RV {
    guard(|| module::close_all_sessions(slotID))
}

#[no_mangle]
pub unsafe extern "C" fn C_GetSessionInfo(
    hSession: CK_SESSION_HANDLE,
    pInfo: *mut CK_SESSION_INFO,
) -> CK_RV {
    guard(|| unsafe { put(pInfo, module::session_info(hSession)?) })
}

#[no_mangle]
pub unsafe extern "C" fn C_Login(
    hSession: CK_SESSION_HANDLE,
    userType: CK_USER_TYPE,
    pPin: *mut CK_UTF8CHAR,
    ulPinLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        // No protected authentication path: the PIN comes from the application.
        let pin = unsafe { bytes(pPin, ulPinLen)? };
        module::login(hSession, userType, pin)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_Logout(hSession: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| module::logout(hSession))
}

// ---------------------------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn C_GetAttributeValue(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let template = unsafe { template(pTemplate, ulCount)? };
        let types: Vec<CK_ATTRIBUTE_TYPE> = template.iter().map(|a| a.type_).collect();
        let values = module::attributes(hSession, hObject, &types)?;
        let mut rv = CKR_OK;
        for (attribute, value) in template.iter_mut().zip(values) {
            match value {
                Value::Sensitive => {
                    attribute.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    rv = CKR_ATTRIBUTE_SENSITIVE;
                }
                Value::Invalid => {
                    attribute.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    rv = CKR_ATTRIBUTE_TYPE_INVALID;
                }
                Value::Bytes(v) if attribute.pValue.is_null() => {
                    attribute.ulValueLen = v.len() as CK_ULONG;
                }
                Value::Bytes(v) if (attribute.ulValueLen as usize) < v.len() => {
                    attribute.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    rv = CKR_BUFFER_TOO_SMALL;
                }
                Value::Bytes(v) => {
                    // SAFETY: `pValue` holds `ulValueLen >= v.len()` bytes (caller's contract).
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            v.as_ptr(),
                            attribute.pValue as *mut u8,
                            v.len(),
                        )
                    };
                    attribute.ulValueLen = v.len() as CK_ULONG;
                }
            }
        }
        if rv == CKR_OK {
            Ok(())
        } else {
            Err(rv)
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetObjectSize(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
    pulSize: *mut CK_ULONG,
) -> CK_RV {
    guard(|| unsafe { put(pulSize, module::object_size(hSession, hObject)?) })
}

#[no_mangle]
pub unsafe extern "C" fn C_FindObjectsInit(
    hSession: CK_SESSION_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let template = unsafe { template(pTemplate, ulCount)? };
        let mut wanted = Vec::with_capacity(template.len());
        for a in template.iter() {
            let value = unsafe { bytes(a.pValue as *const u8, a.ulValueLen)? };
            wanted.push((a.type_, value.to_vec()));
        }
        module::find_init(hSession, &wanted)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_FindObjects(
    hSession: CK_SESSION_HANDLE,
    phObject: *mut CK_OBJECT_HANDLE,
    ulMaxObjectCount: CK_ULONG,
    pulObjectCount: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        if pulObjectCount.is_null() || (phObject.is_null() && ulMaxObjectCount > 0) {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let found = module::find(hSession, ulMaxObjectCount as usize)?;
        // SAFETY: `phObject` holds `ulMaxObjectCount >= found.len()` handles.
        unsafe { std::ptr::copy_nonoverlapping(found.as_ptr(), phObject, found.len()) };
        unsafe { put(pulObjectCount, found.len() as CK_ULONG) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_FindObjectsFinal(hSession: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| module::find_final(hSession))
}

// ---------------------------------------------------------------------------------------------
// Signing and random
// ---------------------------------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn C_SignInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        let mechanism = unsafe { mechanism(pMechanism)? };
        module::sign_init(hSession, mechanism, hKey)
    })
}

/// The end of C_Sign and C_SignFinal: the length, or the signature, written back.
unsafe fn put_signature(
    step: Result<SignStep, Rv>,
    pSignature: *mut CK_BYTE,
    pulSignatureLen: *mut CK_ULONG,
) -> Result<(), Rv> {
    match step {
        Ok(SignStep::Length) | Err(CKR_BUFFER_TOO_SMALL) => {
            unsafe { put(pulSignatureLen, SIGNATURE_LEN as CK_ULONG)? };
            step.map(|_| ())
        }
        Ok(SignStep::Signed(signature)) => {
            // SAFETY: the module checked that the buffer holds SIGNATURE_LEN bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(signature.as_ptr(), pSignature, signature.len())
            };
            unsafe { put(pulSignatureLen, SIGNATURE_LEN as CK_ULONG) }
        }
        Err(rv) => Err(rv),
    }
}

/// The room the caller gave for a signature: none asked (null buffer) or its length.
unsafe fn room(
    pSignature: *mut CK_BYTE,
    pulSignatureLen: *mut CK_ULONG,
) -> Result<Option<usize>, Rv> {
    if pulSignatureLen.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: not null (caller's contract for the rest).
    Ok((!pSignature.is_null()).then(|| unsafe { *pulSignatureLen } as usize))
}

#[no_mangle]
pub unsafe extern "C" fn C_Sign(
    hSession: CK_SESSION_HANDLE,
    pData: *mut CK_BYTE,
    ulDataLen: CK_ULONG,
    pSignature: *mut CK_BYTE,
    pulSignatureLen: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        let data = unsafe { bytes(pData, ulDataLen)? };
        let room = unsafe { room(pSignature, pulSignatureLen)? };
        let step = module::sign(hSession, data, room);
        unsafe { put_signature(step, pSignature, pulSignatureLen) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_SignUpdate(
    hSession: CK_SESSION_HANDLE,
    pPart: *mut CK_BYTE,
    ulPartLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let part = unsafe { bytes(pPart, ulPartLen)? };
        module::sign_update(hSession, part)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_SignFinal(
    hSession: CK_SESSION_HANDLE,
    pSignature: *mut CK_BYTE,
    pulSignatureLen: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        let room = unsafe { room(pSignature, pulSignatureLen)? };
        let step = module::sign_final(hSession, room);
        unsafe { put_signature(step, pSignature, pulSignatureLen) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GenerateRandom(
    hSession: CK_SESSION_HANDLE,
    RandomData: *mut CK_BYTE,
    ulRandomLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        if ulRandomLen == 0 {
            return module::check_session(hSession);
        }
        if RandomData.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        // SAFETY: not null and `ulRandomLen` bytes long (caller's contract).
        let out = unsafe { std::slice::from_raw_parts_mut(RandomData, ulRandomLen as usize) };
        module::generate_random(hSession, out)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_SeedRandom(
    hSession: CK_SESSION_HANDLE,
    _pSeed: *mut CK_BYTE,
    _ulSeedLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        module::check_session(hSession)?;
        Err(CKR_RANDOM_SEED_NOT_SUPPORTED)
    })
}

// ---------------------------------------------------------------------------------------------
// What this token does not do
// ---------------------------------------------------------------------------------------------

/// Functions of a session that do not apply to this token: the session is checked, then `rv`.
macro_rules! refused {
    ($rv:expr => $( fn $name:ident($session:ident $(, $arg:ident : $ty:ty)*); )*) => {$(
        #[no_mangle]
        pub unsafe extern "C" fn $name($session: CK_SESSION_HANDLE $(, $arg: $ty)*) -> CK_RV {
            $(let _ = $arg;)*
            guard(|| {
                module::check_session($session)?;
                Err($rv)
            })
        }
    )*};
}

// Nothing is created, changed or destroyed on the card.
refused! { CKR_TOKEN_WRITE_PROTECTED =>
    fn C_CreateObject(hSession, pTemplate: *mut CK_ATTRIBUTE, ulCount: CK_ULONG, phObject: *mut CK_OBJECT_HANDLE);
    fn C_CopyObject(hSession, hObject: CK_OBJECT_HANDLE, pTemplate: *mut CK_ATTRIBUTE, ulCount: CK_ULONG, phNewObject: *mut CK_OBJECT_HANDLE);
    fn C_DestroyObject(hSession, hObject: CK_OBJECT_HANDLE);
    fn C_SetAttributeValue(hSession, hObject: CK_OBJECT_HANDLE, pTemplate: *mut CK_ATTRIBUTE, ulCount: CK_ULONG);
    fn C_GenerateKey(hSession, pMechanism: *mut CK_MECHANISM, pTemplate: *mut CK_ATTRIBUTE, ulCount: CK_ULONG, phKey: *mut CK_OBJECT_HANDLE);
    fn C_GenerateKeyPair(hSession, pMechanism: *mut CK_MECHANISM, pPublicKeyTemplate: *mut CK_ATTRIBUTE, ulPublicKeyAttributeCount: CK_ULONG, pPrivateKeyTemplate: *mut CK_ATTRIBUTE, ulPrivateKeyAttributeCount: CK_ULONG, phPublicKey: *mut CK_OBJECT_HANDLE, phPrivateKey: *mut CK_OBJECT_HANDLE);
    fn C_UnwrapKey(hSession, pMechanism: *mut CK_MECHANISM, hUnwrappingKey: CK_OBJECT_HANDLE, pWrappedKey: *mut CK_BYTE, ulWrappedKeyLen: CK_ULONG, pTemplate: *mut CK_ATTRIBUTE, ulAttributeCount: CK_ULONG, phKey: *mut CK_OBJECT_HANDLE);
    fn C_DeriveKey(hSession, pMechanism: *mut CK_MECHANISM, hBaseKey: CK_OBJECT_HANDLE, pTemplate: *mut CK_ATTRIBUTE, ulAttributeCount: CK_ULONG, phKey: *mut CK_OBJECT_HANDLE);
}

// The card signs and nothing else: no encryption, decryption, digest, verification or
// recovery, no key wrapping, no saved operation state.
refused! { CKR_FUNCTION_NOT_SUPPORTED =>
    fn C_GetOperationState(hSession, pOperationState: *mut CK_BYTE, pulOperationStateLen: *mut CK_ULONG);
    fn C_SetOperationState(hSession, pOperationState: *mut CK_BYTE, ulOperationStateLen: CK_ULONG, hEncryptionKey: CK_OBJECT_HANDLE, hAuthenticationKey: CK_OBJECT_HANDLE);
    fn C_EncryptInit(hSession, pMechanism: *mut CK_MECHANISM, hKey: CK_OBJECT_HANDLE);
    fn C_Encrypt(hSession, pData: *mut CK_BYTE, ulDataLen: CK_ULONG, pEncryptedData: *mut CK_BYTE, pulEncryptedDataLen: *mut CK_ULONG);
    fn C_EncryptUpdate(hSession, pPart: *mut CK_BYTE, ulPartLen: CK_ULONG, pEncryptedPart: *mut CK_BYTE, pulEncryptedPartLen: *mut CK_ULONG);
    fn C_EncryptFinal(hSession, pLastEncryptedPart: *mut CK_BYTE, pulLastEncryptedPartLen: *mut CK_ULONG);
    fn C_DecryptInit(hSession, pMechanism: *mut CK_MECHANISM, hKey: CK_OBJECT_HANDLE);
    fn C_Decrypt(hSession, pEncryptedData: *mut CK_BYTE, ulEncryptedDataLen: CK_ULONG, pData: *mut CK_BYTE, pulDataLen: *mut CK_ULONG);
    fn C_DecryptUpdate(hSession, pEncryptedPart: *mut CK_BYTE, ulEncryptedPartLen: CK_ULONG, pPart: *mut CK_BYTE, pulPartLen: *mut CK_ULONG);
    fn C_DecryptFinal(hSession, pLastPart: *mut CK_BYTE, pulLastPartLen: *mut CK_ULONG);
    fn C_DigestInit(hSession, pMechanism: *mut CK_MECHANISM);
    fn C_Digest(hSession, pData: *mut CK_BYTE, ulDataLen: CK_ULONG, pDigest: *mut CK_BYTE, pulDigestLen: *mut CK_ULONG);
    fn C_DigestUpdate(hSession, pPart: *mut CK_BYTE, ulPartLen: CK_ULONG);
    fn C_DigestKey(hSession, hKey: CK_OBJECT_HANDLE);
    fn C_DigestFinal(hSession, pDigest: *mut CK_BYTE, pulDigestLen: *mut CK_ULONG);
    fn C_SignRecoverInit(hSession, pMechanism: *mut CK_MECHANISM, hKey: CK_OBJECT_HANDLE);
    fn C_SignRecover(hSession, pData: *mut CK_BYTE, ulDataLen: CK_ULONG, pSignature: *mut CK_BYTE, pulSignatureLen: *mut CK_ULONG);
    fn C_VerifyInit(hSession, pMechanism: *mut CK_MECHANISM, hKey: CK_OBJECT_HANDLE);
    fn C_Verify(hSession, pData: *mut CK_BYTE, ulDataLen: CK_ULONG, pSignature: *mut CK_BYTE, ulSignatureLen: CK_ULONG);
    fn C_VerifyUpdate(hSession, pPart: *mut CK_BYTE, ulPartLen: CK_ULONG);
    fn C_VerifyFinal(hSession, pSignature: *mut CK_BYTE, ulSignatureLen: CK_ULONG);
    fn C_VerifyRecoverInit(hSession, pMechanism: *mut CK_MECHANISM, hKey: CK_OBJECT_HANDLE);
    fn C_VerifyRecover(hSession, pSignature: *mut CK_BYTE, ulSignatureLen: CK_ULONG, pData: *mut CK_BYTE, pulDataLen: *mut CK_ULONG);
    fn C_DigestEncryptUpdate(hSession, pPart: *mut CK_BYTE, ulPartLen: CK_ULONG, pEncryptedPart: *mut CK_BYTE, pulEncryptedPartLen: *mut CK_ULONG);
    fn C_DecryptDigestUpdate(hSession, pEncryptedPart: *mut CK_BYTE, ulEncryptedPartLen: CK_ULONG, pPart: *mut CK_BYTE, pulPartLen: *mut CK_ULONG);
    fn C_SignEncryptUpdate(hSession, pPart: *mut CK_BYTE, ulPartLen: CK_ULONG, pEncryptedPart: *mut CK_BYTE, pulEncryptedPartLen: *mut CK_ULONG);
    fn C_DecryptVerifyUpdate(hSession, pEncryptedPart: *mut CK_BYTE, ulEncryptedPartLen: CK_ULONG, pPart: *mut CK_BYTE, pulPartLen: *mut CK_ULONG);
    fn C_WrapKey(hSession, pMechanism: *mut CK_MECHANISM, hWrappingKey: CK_OBJECT_HANDLE, hKey: CK_OBJECT_HANDLE, pWrappedKey: *mut CK_BYTE, pulWrappedKeyLen: *mut CK_ULONG);
}

// Legacy parallel functions (PKCS#11 v2.40 §5.17).
refused! { CKR_FUNCTION_NOT_PARALLEL =>
    fn C_GetFunctionStatus(hSession);
    fn C_CancelFunction(hSession);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_never_crosses_the_boundary() {
        let rv = guard(|| panic!("a bug"));
        assert_eq!(rv, CKR_GENERAL_ERROR);
        assert_eq!(guard(|| Err(CKR_PIN_INCORRECT)), CKR_PIN_INCORRECT);
        assert_eq!(guard(|| Ok(())), CKR_OK);
    }

    #[test]
    fn null_pointers_are_refused() {
        // SAFETY: the functions must refuse null pointers before they touch anything.
        unsafe {
            assert_eq!(C_GetFunctionList(std::ptr::null_mut()), CKR_ARGUMENTS_BAD);
            let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
            assert_eq!(C_GetFunctionList(&mut list), CKR_OK);
            assert_eq!((*list).version.major, 2);
            assert_eq!((*list).version.minor, 40);
            assert!((*list).C_WaitForSlotEvent.is_some());
        }
    }
}
