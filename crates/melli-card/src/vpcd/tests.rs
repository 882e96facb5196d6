use super::*;
use crate::timing::Work;
use std::net::TcpListener;
use std::sync::mpsc;

/// Plays vpcd: length-prefixed messages over an accepted connection.
struct FakeVpcd {
    stream: TcpStream,
}

impl FakeVpcd {
    fn accept(listener: &TcpListener) -> FakeVpcd {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        FakeVpcd { stream }
    }

    fn send(&mut self, message: &[u8]) {
        let mut frame = (message.len() as u16).to_be_bytes().to_vec();
        frame.extend_from_slice(message);
        self.stream.write_all(&frame).unwrap();
    }

    fn receive(&mut self) -> Vec<u8> {
        let mut header = [0u8; 2];
        self.stream.read_exact(&mut header).unwrap();
        let mut body = vec![0u8; u16::from_be_bytes(header) as usize];
        self.stream.read_exact(&mut body).unwrap();
        body
    }

    fn exchange(&mut self, message: &[u8]) -> Vec<u8> {
        self.send(message);
        self.receive()
    }
}

/// Sets `stop` when dropped, so that a failed assertion ends the card's thread too
/// instead of hanging the scope.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

const SELECT_AID: &str = "00A4040007F04D454C4C490100";
/// The FCP of card "VPCD1" (version 1.1: its serial in `85`), blank, and `9000`.
const SELECT_AID_FCP: &str = "62168201388407F04D454C4C4901850556504344318A01019000";

#[test]
fn serves_controls_and_apdus_and_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stop = AtomicBool::new(false);
    let (log_tx, log_rx) = mpsc::channel::<String>();
    let mut card = Card::manufacture("VPCD1", &[3; 16]).unwrap();

    thread::scope(|scope| {
        let server = scope.spawn(|| {
            serve(&mut card, &addr, &stop, move |line| {
                let _ = log_tx.send(line.to_owned());
            })
        });

        let _stop_on_panic = StopOnDrop(&stop);
        let mut vpcd = FakeVpcd::accept(&listener);
        vpcd.send(&[control::POWER_ON]);
        assert_eq!(vpcd.exchange(&[control::ATR]), crate::spec::ATR.to_vec());
        let response = vpcd.exchange(&hex::decode(SELECT_AID).unwrap());
        assert_eq!(hex::encode_upper(response), SELECT_AID_FCP);

        // A message whose body comes later than the card's read timeout: no desync.
        let apdu = hex::decode("00CADF0100").unwrap();
        vpcd.stream.write_all(&[0x00, apdu.len() as u8]).unwrap();
        thread::sleep(READ_TIMEOUT + Duration::from_millis(150));
        vpcd.stream.write_all(&apdu).unwrap();
        assert_eq!(hex::encode_upper(vpcd.receive()), "56504344319000");
        drop(vpcd);

        // The card comes back by itself, with a fresh session.
        let mut vpcd = FakeVpcd::accept(&listener);
        assert_eq!(vpcd.exchange(&[control::ATR]), crate::spec::ATR.to_vec());
        let response = vpcd.exchange(&hex::decode("00CADF0100").unwrap());
        assert_eq!(hex::encode_upper(response), "6985");
        vpcd.send(&[control::RESET]);
        vpcd.send(&[control::POWER_OFF]);
        assert_eq!(vpcd.exchange(&[control::ATR]), crate::spec::ATR.to_vec());

        let started = Instant::now();
        stop.store(true, Ordering::Relaxed);
        assert!(server.join().unwrap().is_ok());
        assert!(started.elapsed() < Duration::from_secs(2));
    });

    let log: Vec<String> = log_rx.try_iter().collect();
    let connects = log.iter().filter(|l| l.starts_with("connected")).count();
    assert_eq!(connects, 2, "{log:?}");
    for expected in ["power on", "reset", "power off"] {
        assert!(
            log.iter().any(|l| l == expected),
            "{expected} missing: {log:?}"
        );
    }
    assert!(log.iter().any(|l| l.starts_with("disconnected")), "{log:?}");
}

/// Fault injection: the card processes the k-th command APDU completely (the wrong PIN's
/// try is saved), drops the connection without its answer, comes back after the pause as
/// a re-inserted card with a fresh session, and is never pulled again.
#[test]
fn a_card_pulled_at_the_kth_command_apdu() {
    let dir = tempfile::tempdir().unwrap();
    let (mut card, path) = super::super::tests::personalized_file(dir.path());
    card.power_off();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stop = AtomicBool::new(false);
    let (log_tx, log_rx) = mpsc::channel::<String>();
    let options = Options {
        tear_at: Some(3),
        reinsert_after: Duration::from_millis(300),
        ..Options::default()
    };
    let wrong_pin = hex::decode("0020008110313233343537FFFFFFFFFFFFFFFFFFFF").unwrap();
    let counters = hex::decode("00CADF0400").unwrap();
    let select = hex::decode(SELECT_AID).unwrap();
    thread::scope(|scope| {
        let server = scope.spawn(|| {
            serve_with(
                &mut card,
                &addr,
                &stop,
                move |line| {
                    let _ = log_tx.send(line.to_owned());
                },
                options,
            )
        });
        let _stop_on_panic = StopOnDrop(&stop);
        let mut vpcd = FakeVpcd::accept(&listener);
        vpcd.send(&[control::POWER_ON]);
        assert_eq!(vpcd.exchange(&[control::ATR]), crate::spec::ATR.to_vec());
        assert_eq!(vpcd.exchange(&select)[..2], [0x62, 0x1A]); // APDU 1
        assert_eq!(hex::encode_upper(vpcd.exchange(&counters)), "030A059000"); // 2
        vpcd.send(&wrong_pin); // 3: processed, then the card is pulled
        let mut rest = Vec::new();
        assert_eq!(vpcd.stream.read_to_end(&mut rest).unwrap(), 0, "no answer");
        let pulled = Instant::now();

        let mut vpcd = FakeVpcd::accept(&listener);
        assert!(pulled.elapsed() >= Duration::from_millis(300));
        assert_eq!(vpcd.exchange(&[control::ATR]), crate::spec::ATR.to_vec());
        // A fresh session: nothing selected.
        assert_eq!(hex::encode_upper(vpcd.exchange(&counters)), "6985"); // 4
        assert_eq!(vpcd.exchange(&select)[..2], [0x62, 0x1A]); // 5
                                                               // The try of APDU 3 was saved before the card was pulled.
        assert_eq!(hex::encode_upper(vpcd.exchange(&counters)), "020A059000"); // 6
        for _ in 0..5 {
            assert_eq!(vpcd.exchange(&wrong_pin)[0], 0x63, "a wrong PIN");
            vpcd.exchange(&hex::decode("0020008110313233343536FFFFFFFFFFFFFFFFFFFF").unwrap());
        }
        stop.store(true, Ordering::Relaxed);
        assert!(server.join().unwrap().is_ok());
    });
    assert_eq!(Card::open_file(&path).unwrap().state.pin.tries_left, 3);
    let log: Vec<String> = log_rx.try_iter().collect();
    let pulls: Vec<&String> = log.iter().filter(|l| l.contains("pulled")).collect();
    assert_eq!(pulls.len(), 1, "{log:?}");
    assert!(pulls[0].contains("command APDU 3"), "{log:?}");
}

/// With `eject_issued`, a blank card stays through a reset; an issued one leaves the reader
/// at the host's reset, and `serve_with` says so.
#[test]
fn an_issued_card_leaves_when_the_host_lets_go() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stop = AtomicBool::new(false);
    let options = Options {
        eject_issued: true,
        ..Options::default()
    };
    // Blank: reset, and still there to answer.
    let mut blank = Card::manufacture("FEED0001", &[7; 16]).unwrap();
    thread::scope(|scope| {
        let server = scope.spawn(|| serve_with(&mut blank, &addr, &stop, |_| {}, options));
        let _stop_on_panic = StopOnDrop(&stop);
        let mut vpcd = FakeVpcd::accept(&listener);
        vpcd.send(&[control::POWER_ON]);
        vpcd.send(&[control::RESET]);
        assert_eq!(vpcd.exchange(&[control::ATR]), crate::spec::ATR.to_vec());
        stop.store(true, Ordering::Relaxed);
        assert_eq!(server.join().unwrap().unwrap(), Served::Stopped);
    });
    stop.store(false, Ordering::Relaxed);
    // Issued: the reset is its last message.
    let dir = tempfile::tempdir().unwrap();
    let (mut issued, _) = super::super::tests::personalized_file(dir.path());
    thread::scope(|scope| {
        let server = scope.spawn(|| serve_with(&mut issued, &addr, &stop, |_| {}, options));
        let _stop_on_panic = StopOnDrop(&stop);
        let mut vpcd = FakeVpcd::accept(&listener);
        vpcd.send(&[control::POWER_ON]);
        assert_eq!(vpcd.exchange(&[control::ATR]), crate::spec::ATR.to_vec());
        vpcd.send(&[control::RESET]);
        let mut rest = Vec::new();
        assert_eq!(vpcd.stream.read_to_end(&mut rest).unwrap(), 0, "closed");
        assert_eq!(server.join().unwrap().unwrap(), Served::Ejected);
    });
}

/// vpcd writes the length and the APDU in two segments, with Nagle's algorithm on. Without
/// quick ACKs on the card's side each exchange would wait ~40 ms for a delayed ACK.
#[test]
fn split_writes_do_not_cost_a_delayed_ack() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stop = AtomicBool::new(false);
    let mut card = Card::manufacture("VPCD4", &[3; 16]).unwrap();
    thread::scope(|scope| {
        let server = scope.spawn(|| serve(&mut card, &addr, &stop, |_| {}));
        let _stop_on_panic = StopOnDrop(&stop);
        let mut vpcd = FakeVpcd::accept(&listener);
        let apdu = hex::decode("0084000008").unwrap();
        let exchanges = 100;
        let started = Instant::now();
        for _ in 0..exchanges {
            vpcd.stream
                .write_all(&(apdu.len() as u16).to_be_bytes())
                .unwrap();
            vpcd.stream.write_all(&apdu).unwrap();
            assert_eq!(vpcd.receive().len(), 10);
        }
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_millis(20 * exchanges),
            "{exchanges} exchanges took {elapsed:?}"
        );
        stop.store(true, Ordering::Relaxed);
        assert!(server.join().unwrap().is_ok());
    });
}

#[test]
fn waits_for_vpcd_to_appear_and_stops_on_request() {
    // A port that nobody listens on (bound, then released).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let stop = AtomicBool::new(false);
    let mut lines = Vec::new();
    let mut card = Card::manufacture("VPCD2", &[3; 16]).unwrap();
    thread::scope(|scope| {
        let server = scope.spawn(|| serve(&mut card, &addr, &stop, |l| lines.push(l.to_owned())));
        let _stop_on_panic = StopOnDrop(&stop);
        thread::sleep(Duration::from_millis(400));
        let listener = TcpListener::bind(&addr).unwrap();
        let mut vpcd = FakeVpcd::accept(&listener);
        assert_eq!(vpcd.exchange(&[control::ATR]), crate::spec::ATR.to_vec());
        stop.store(true, Ordering::Relaxed);
        assert!(server.join().unwrap().is_ok());
    });
    assert_eq!(
        lines.iter().filter(|l| l.contains("not reachable")).count(),
        1,
        "{lines:?}"
    );
}

#[test]
fn an_unresolvable_address_is_an_error() {
    let stop = AtomicBool::new(false);
    let mut card = Card::manufacture("VPCD3", &[3; 16]).unwrap();
    let error = serve(&mut card, "no port here", &stop, |_| {}).unwrap_err();
    assert!(matches!(error, CardError::VpcdAddress { .. }), "{error}");
}

/// `--timing`: each answer comes no sooner than the profile's time for its bytes and the
/// work the card did (a lower bound only: how much later is the machine's business).
#[test]
fn a_timed_card_answers_no_sooner_than_its_profile() {
    let dir = tempfile::tempdir().unwrap();
    let (mut card, _) = super::super::tests::personalized_file(dir.path());
    card.power_off();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stop = AtomicBool::new(false);
    let profile = Profile::t1(9_600);
    let options = Options {
        timing: profile,
        ..Options::default()
    };
    let select = hex::decode(SELECT_AID).unwrap();
    let wrong_pin = hex::decode("0020008110313233343537FFFFFFFFFFFFFFFFFFFF").unwrap();
    thread::scope(|scope| {
        let server = scope.spawn(|| serve_with(&mut card, &addr, &stop, |_| {}, options));
        let _stop_on_panic = StopOnDrop(&stop);
        let mut vpcd = FakeVpcd::accept(&listener);
        vpcd.send(&[control::POWER_ON]);
        let started = Instant::now();
        assert_eq!(vpcd.exchange(&[control::ATR]), crate::spec::ATR.to_vec());
        assert!(
            started.elapsed() < Duration::from_millis(40),
            "no delay for the ATR"
        );

        let started = Instant::now();
        let response = vpcd.exchange(&select);
        // 13 + 4 and 30 + 4 characters (the FCP with the serial, and the status word) of
        // 11 etu at 9 600 bit/s, and 2 ms of chip: 60.4 ms.
        let expected = profile.delay(select.len(), response.len(), &Work::default());
        assert_eq!(expected.as_micros(), 58_437 + 2_000);
        assert!(started.elapsed() >= expected, "{:?}", started.elapsed());

        let started = Instant::now();
        let response = vpcd.exchange(&wrong_pin);
        assert_eq!(response[0], 0x63);
        let work = Work {
            pin_checks: 1,
            ..Work::default()
        };
        let expected = profile.delay(wrong_pin.len(), response.len(), &work);
        assert_eq!(expected.as_micros(), 35_520 + 2_000 + 10_000);
        assert!(started.elapsed() >= expected, "{:?}", started.elapsed());
        stop.store(true, Ordering::Relaxed);
        assert!(server.join().unwrap().is_ok());
    });
}
