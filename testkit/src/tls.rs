//! TLS in front of the local stack's plain services, as production has it: a certificate
//! authority generated per test run and a TLS-terminating proxy, so the real binaries reach
//! Kafka, ClickHouse and S3 over TLS and must verify the server against that authority.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use friction_service::config::KafkaConfig;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{Ssl, SslAcceptor, SslMethod};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509Name, X509};
use tokio::net::{TcpListener, TcpStream};

use crate::PrivateBroker;

/// A certificate authority and a server certificate it signed for `127.0.0.1` and
/// `localhost`; clients are given [`Authority::ca_file`] to trust.
pub struct Authority {
    /// The authority's certificate (PEM), for `ssl.ca.location` or `SSL_CERT_FILE`.
    pub ca_file: PathBuf,
    acceptor: Arc<SslAcceptor>,
}

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn name(common_name: &str) -> X509Name {
    let mut name = X509Name::builder().unwrap();
    name.append_entry_by_text("CN", common_name).unwrap();
    name.build()
}

fn certificate(
    subject: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    serial: u32,
) -> X509 {
    let mut builder = X509::builder().unwrap();
    builder.set_version(2).unwrap();
    let serial = BigNum::from_u32(serial).unwrap().to_asn1_integer().unwrap();
    builder.set_serial_number(&serial).unwrap();
    builder.set_subject_name(&name(subject)).unwrap();
    builder.set_pubkey(key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    let signer = match issuer {
        None => {
            builder.set_issuer_name(&name(subject)).unwrap();
            let ca = BasicConstraints::new().critical().ca().build().unwrap();
            builder.append_extension(ca).unwrap();
            let usage = KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build();
            builder.append_extension(usage.unwrap()).unwrap();
            key
        }
        Some((ca, ca_key)) => {
            builder.set_issuer_name(ca.subject_name()).unwrap();
            let names = SubjectAlternativeName::new()
                .dns("localhost")
                .ip("127.0.0.1")
                .build(&builder.x509v3_context(Some(ca), None))
                .unwrap();
            builder.append_extension(names).unwrap();
            let server = ExtendedKeyUsage::new().server_auth().build().unwrap();
            builder.append_extension(server).unwrap();
            let leaf = BasicConstraints::new().build().unwrap();
            builder.append_extension(leaf).unwrap();
            ca_key
        }
    };
    builder.sign(signer, MessageDigest::sha256()).unwrap();
    builder.build()
}

impl Authority {
    /// A fresh authority and server certificate; the CA's PEM is written under the
    /// system's temporary directory.
    pub fn new() -> Authority {
        let ca_key = key();
        let ca = certificate("friction test CA", &ca_key, None, 1);
        let server_key = key();
        let server = certificate("127.0.0.1", &server_key, Some((&ca, &ca_key)), 2);
        let dir = std::env::temp_dir().join(crate::unique("friction-tls"));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca.to_pem().unwrap()).unwrap();
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
        acceptor.set_private_key(&server_key).unwrap();
        acceptor.set_certificate(&server).unwrap();
        acceptor.check_private_key().unwrap();
        Authority {
            ca_file,
            acceptor: Arc::new(acceptor.build()),
        }
    }

    /// Terminates TLS on a new loopback port and forwards the plain bytes to `upstream`
    /// (`host:port`); answers the port.
    pub async fn terminate(&self, upstream: String) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        self.terminate_on(listener, upstream);
        addr
    }

    /// Terminates TLS on `listener` (bound by the caller, when its port must be known
    /// before the upstream starts) and forwards to `upstream`.
    pub fn terminate_on(&self, listener: TcpListener, upstream: String) {
        let acceptor = self.acceptor.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(ssl) = Ssl::new(acceptor.context()) else {
                        return;
                    };
                    let Ok(mut tls) = tokio_openssl::SslStream::new(ssl, inbound) else {
                        return;
                    };
                    // A client that does not trust the authority ends here.
                    if Pin::new(&mut tls).accept().await.is_err() {
                        return;
                    }
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut outbound).await;
                });
            }
        });
    }
}

impl Authority {
    /// A broker of its own that clients reach only over TLS (it advertises the TLS port),
    /// and the config of a client that trusts this authority.
    pub async fn kafka(&self) -> (PrivateBroker, KafkaConfig) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tls_port = listener.local_addr().unwrap().port();
        let port = crate::free_port();
        let broker = PrivateBroker::advertising(port, tls_port);
        self.terminate_on(listener, format!("127.0.0.1:{port}"));
        let mut kafka = broker.kafka.clone();
        let properties = &mut kafka.kafka_properties;
        properties.insert("security.protocol".into(), "ssl".into());
        properties.insert("ssl.ca.location".into(), self.ca_file.display().to_string());
        (broker, kafka)
    }

    /// An `https://` URL that reaches the service behind the plain `http://` `url`.
    pub async fn https(&self, url: &str) -> String {
        format!("https://{}", self.terminate(crate::host_port(url)).await)
    }
}

impl Default for Authority {
    fn default() -> Self {
        Authority::new()
    }
}
