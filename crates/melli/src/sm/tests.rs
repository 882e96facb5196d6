//! Against the worked example of applets-spec §10.7.
use super::*;
use crate::apdu::{Command, Response};
use crate::spec::tag;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).expect("test hex")
}

fn arr<const N: usize>(s: &str) -> [u8; N] {
    h(s).try_into().expect("length")
}

fn example_channel() -> (StaticKeys, SecureChannel) {
    let keys = StaticKeys::diversify(&arr("2B7E151628AED2A6ABF7158809CF4F3C"), "MELLI0000000001");
    assert_eq!(*keys.enc, arr::<16>("94089710C4EBB044A03782FE8CC92546"));
    assert_eq!(*keys.mac, arr::<16>("20CEDCC3427D61AA598974A075991E08"));
    let auth = Authentication {
        rnd_icc: Zeroizing::new(arr("4608F91988702212AE2F1B5C6D7E8F90")),
        rnd_ifd: Zeroizing::new(arr("781723860C06C2264608F919887022AB")),
        k_ifd: Zeroizing::new(arr("0B795240CB7049B01C19B33E32804F0B")),
    };
    assert_eq!(
        *auth.command_data(&keys),
        h(
            "9421A049F45762B47AB8E4AAD60583EE2FC53C0FB077525713F1620F4467D9E1
           6CC26BBAD91F3DE3036404416C330409A53FD04A0DF7F4A9"
        )
    );
    let channel = auth
        .finish(
            &keys,
            &h(
                "2C6A8C502D174EB643A4C73DE82B00150B74ECB22CB61EB568464F630DD1732E
                A08415B774192A9A0EC022A8E7EB89724C81F8AA79F8B6BF",
            ),
        )
        .expect("card authenticated");
    (keys, channel)
}

#[test]
fn matches_the_specification_example() {
    let (_, mut channel) = example_channel();
    assert_eq!(
        *channel.ks_enc,
        arr::<16>("2C0D9541B93A77A7291812AA85C38FE5")
    );
    assert_eq!(
        *channel.ks_mac,
        arr::<16>("26594B2A9180344501E0DA10F84DB65E")
    );

    let select = Command::new(0, 0xA4, 0x02, 0x0C).data(vec![0x01, 0x01]);
    let wrapped = channel.wrap(&select);
    assert_eq!(
        *wrapped.to_bytes().expect("encodes"),
        h("0CA4020C1D8711014E2D87DD7FF86359D8C04DC78B4FE61C8E08060466FA44C73DAA00")
    );
    let answer = Response::parse(&h("990290008E08B938D49858FDA71F9000")).expect("response");
    let inner = channel.unwrap(&answer).expect("valid MAC");
    assert!(inner.sw.is_ok() && inner.data.is_empty());

    let update = Command::new(0, 0xD6, 0, 0).data(h("E1819CDF000101DF010A303439393337"));
    assert_eq!(
        *channel.wrap(&update).to_bytes().expect("encodes"),
        h(
            "0CD600002D872101CA14C968EEC843F2860DB8F837E3CE0BE927A03F9838566C
           C500B916F0F44BF38E08564EE748765C15BA00"
        )
    );
    let answer = Response::parse(&h("990290008E088EEE278109AFC25D9000")).expect("response");
    channel.unwrap(&answer).expect("valid MAC");

    let read = Command::new(0, 0xB0, 0, 0).expect(8);
    assert_eq!(
        *channel.wrap(&read).to_bytes().expect("encodes"),
        h("0CB000000D9701088E084CC64320E426184F00")
    );
    let answer = Response::parse(&h(
        "87110119CF54412076FA96887305CDA729765E990290008E08AFF21462638C7E839000",
    ))
    .expect("response");
    let inner = channel.unwrap(&answer).expect("valid MAC");
    assert_eq!(&*inner.data, &h("E1819CDF000101DF")[..]);
}

#[test]
fn rejects_a_wrong_card_answer() {
    let (keys, _) = example_channel();
    let auth = Authentication::new(&[7; 16]);
    assert_eq!(
        auth.finish(&keys, &[0u8; 56]).err(),
        Some(SmError::CardNotAuthenticated)
    );
}

/// The example channel after command 1 went out (SSC = 1): `forge` builds, with the
/// session keys, what a man in the middle could only build if he knew them — so that each
/// test below is refused for the layout of its objects, never for a wrong MAC.
struct Forger {
    channel: SecureChannel,
}

impl Forger {
    fn new() -> Forger {
        let (_, mut channel) = example_channel();
        channel.wrap(&Command::new(0, 0xA4, 0x02, 0x0C).data(vec![0x01, 0x01]));
        Forger { channel }
    }

    /// `87 L 01 ‖ AES-CBC(KS_enc, IV(SSC = 2), pad(plain))`: a cryptogram that decrypts
    /// and unpads cleanly under the response's counter.
    fn cryptogram(&mut self, plain: &[u8]) -> Vec<u8> {
        self.channel.ssc += 1;
        let mut data = plain.to_vec();
        pad(&mut data);
        cbc_encrypt(&self.channel.ks_enc, &self.channel.iv(), &mut data);
        self.channel.ssc -= 1;
        let mut value = vec![0x01];
        value.extend_from_slice(&data);
        let mut out = Vec::new();
        tlv(tag::SM_CRYPTOGRAM, &value, &mut out);
        out
    }

    /// `covered ‖ 8E 08 MAC(SSC = 2, covered) ‖ after ‖ 90 00`.
    fn response(&mut self, covered: &[u8], after: &[u8]) -> Response {
        self.channel.ssc += 1;
        let mac = self.channel.mac(&[covered]);
        self.channel.ssc -= 1;
        let mut bytes = covered.to_vec();
        tlv(tag::SM_MAC, &mac, &mut bytes);
        bytes.extend_from_slice(after);
        bytes.extend_from_slice(&[0x90, 0x00]);
        Response::parse(&bytes).expect("response")
    }

    fn unwrap(mut self, response: &Response) -> Result<Response, SmError> {
        self.channel.unwrap(response)
    }
}

const STATUS_OK: [u8; 4] = [0x99, 0x02, 0x90, 0x00];

#[test]
fn the_forger_builds_what_the_card_sends() {
    let mut forger = Forger::new();
    let mut covered = forger.cryptogram(b"data");
    covered.extend_from_slice(&STATUS_OK);
    let answer = forger.response(&covered, &[]);
    let inner = forger.unwrap(&answer).expect("well-formed");
    assert_eq!(&*inner.data, b"data");
}

#[test]
fn refuses_a_cryptogram_after_the_mac() {
    // The data-less answer `99 8E` is genuine; a `87` appended after the MAC is covered by
    // nothing and must not become the command's answer.
    let mut forger = Forger::new();
    let appended = forger.cryptogram(b"forged");
    let answer = forger.response(&STATUS_OK, &appended);
    assert!(
        matches!(forger.unwrap(&answer), Err(SmError::MalformedResponse(_))),
        "a 87 after 8E was accepted"
    );
}

#[test]
fn refuses_the_status_before_the_cryptogram() {
    let mut forger = Forger::new();
    let mut covered = STATUS_OK.to_vec();
    covered.extend_from_slice(&forger.cryptogram(b"data"));
    let answer = forger.response(&covered, &[]);
    assert!(
        matches!(forger.unwrap(&answer), Err(SmError::MalformedResponse(_))),
        "99 87 8E was accepted"
    );
}

#[test]
fn refuses_the_mac_before_the_status() {
    let mut forger = Forger::new();
    let answer = forger.response(&[], &STATUS_OK);
    assert!(
        matches!(forger.unwrap(&answer), Err(SmError::MalformedResponse(_))),
        "8E 99 was accepted"
    );
}

#[test]
fn refuses_a_duplicated_status() {
    let mut forger = Forger::new();
    let mut covered = STATUS_OK.to_vec();
    covered.extend_from_slice(&[0x99, 0x02, 0x6A, 0x82]);
    let answer = forger.response(&covered, &[]);
    assert!(
        matches!(forger.unwrap(&answer), Err(SmError::MalformedResponse(_))),
        "99 99 8E was accepted"
    );
}

#[test]
fn refuses_a_duplicated_cryptogram() {
    let mut forger = Forger::new();
    let mut covered = forger.cryptogram(b"one");
    covered.extend_from_slice(&forger.cryptogram(b"two"));
    covered.extend_from_slice(&STATUS_OK);
    let answer = forger.response(&covered, &[]);
    assert!(
        matches!(forger.unwrap(&answer), Err(SmError::MalformedResponse(_))),
        "87 87 99 8E was accepted"
    );
}

#[test]
fn refuses_an_unknown_object() {
    let mut forger = Forger::new();
    let mut covered = vec![0x97, 0x01, 0x00];
    covered.extend_from_slice(&STATUS_OK);
    let answer = forger.response(&covered, &[]);
    assert!(
        matches!(forger.unwrap(&answer), Err(SmError::MalformedResponse(_))),
        "97 99 8E was accepted"
    );
}

#[test]
fn refuses_anything_after_the_mac() {
    // A stray byte, and a whole (empty) data object.
    for after in [&[0x00][..], &[0x00, 0x00][..], &STATUS_OK[..]] {
        let mut forger = Forger::new();
        let answer = forger.response(&STATUS_OK, after);
        assert!(
            matches!(forger.unwrap(&answer), Err(SmError::MalformedResponse(_))),
            "{} after 8E was accepted",
            hex::encode_upper(after)
        );
    }
}

#[test]
fn refuses_a_mac_that_is_not_eight_bytes() {
    let mut forger = Forger::new();
    forger.channel.ssc += 1;
    let mac = forger.channel.mac(&[&STATUS_OK]);
    forger.channel.ssc -= 1;
    let mut bytes = STATUS_OK.to_vec();
    tlv(tag::SM_MAC, &[&mac[..], &[0]].concat(), &mut bytes);
    bytes.extend_from_slice(&[0x90, 0x00]);
    let answer = Response::parse(&bytes).expect("response");
    assert!(forger.unwrap(&answer).is_err(), "a 9-byte 8E was accepted");
}

#[test]
fn rejects_a_tampered_response() {
    let (_, mut channel) = example_channel();
    channel.wrap(&Command::new(0, 0xA4, 0x02, 0x0C).data(vec![0x01, 0x01]));
    let answer = Response::parse(&h("990290008E08B938D49858FDA71F9001")).expect("response");
    assert!(matches!(channel.unwrap(&answer), Err(SmError::Refused(_))));
    let mut other = example_channel().1;
    other.wrap(&Command::new(0, 0xA4, 0x02, 0x0C).data(vec![0x01, 0x01]));
    let forged = Response::parse(&h("990290008E08B938D49858FDA71E9000")).expect("response");
    assert_eq!(other.unwrap(&forged).err(), Some(SmError::ResponseMac));
}
