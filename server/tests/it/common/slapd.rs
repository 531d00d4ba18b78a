//! A real OpenLDAP `slapd` (Debian's) for the directory tests: on 127.0.0.1, StartTLS with a
//! certificate of the test's own CA, and a test tree (people, one disabled, a service account,
//! groups).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

pub const SUFFIX: &str = "dc=example,dc=org";
pub const ROOT_PW: &str = "directory-root-secret";
pub const SERVICE_PW: &str = "service account secret";
pub const DORA_PW: &str = "dora's directory password";
pub const GUS_PW: &str = "gus's directory password";

/// A slapd of the test's own: its configuration, database and certificates in a temporary
/// directory; stopped when dropped.
pub struct Slapd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub ca_file: PathBuf,
    pub child: Option<std::process::Child>,
}

pub fn tree() -> String {
    format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n\
         dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services\n\n\
         dn: cn=portcullis,ou=services,{SUFFIX}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n\
         cn: portcullis\nuserPassword: {SERVICE_PW}\n\n\
         dn: uid=dora,ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: dora\ncn: Dora Directory\nsn: Directory\n\
         mail: dora@example.org\nuserPassword: {DORA_PW}\n\n\
         dn: uid=evan,ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: evan\ncn: Evan Gone\nsn: Gone\n\
         employeeType: disabled\nuserPassword: evan password 1\n\n\
         dn: uid=nopass,ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: nopass\ncn: No Password\nsn: Password\n\n\
         dn: uid=gus,ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: gus\ncn: Gus Groups\nsn: Groups\n\
         userPassword: {GUS_PW}\n\n\
         dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: cn=developers,ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: developers\n\
         member: uid=gus,ou=people,{SUFFIX}\nmember: uid=dora,ou=people,{SUFFIX}\n\n\
         dn: cn=registry-admins,ou=groups,{SUFFIX}\nobjectClass: groupOfUniqueNames\ncn: registry-admins\n\
         uniqueMember: uid=gus,ou=people,{SUFFIX}\n"
    )
}

impl Slapd {
    pub fn start() -> Slapd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (ca, chain, key) = super::pki::test_pki();
        let ca_file = d.join("ca.pem");
        std::fs::write(&ca_file, ca).unwrap();
        std::fs::write(d.join("cert.pem"), chain).unwrap();
        std::fs::write(d.join("key.pem"), key).unwrap();
        std::fs::create_dir(d.join("db")).unwrap();
        let conf = format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\ninclude /etc/ldap/schema/nis.schema\n\
             pidfile {d}/slapd.pid\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\n\
             TLSCACertificateFile {d}/ca.pem\nTLSCertificateFile {d}/cert.pem\nTLSCertificateKeyFile {d}/key.pem\n\
             database mdb\nsuffix \"{SUFFIX}\"\nrootdn \"cn=admin,{SUFFIX}\"\nrootpw \"{ROOT_PW}\"\ndirectory {d}/db\n\
             access to attrs=userPassword by anonymous auth by self write by * none\n\
             access to * by dn.exact=\"cn=portcullis,ou=services,{SUFFIX}\" read by * none\n",
            d = d.display()
        );
        std::fs::write(d.join("slapd.conf"), conf).unwrap();
        std::fs::write(d.join("tree.ldif"), tree()).unwrap();
        let out = std::process::Command::new("slapadd")
            .arg("-f")
            .arg(d.join("slapd.conf"))
            .arg("-l")
            .arg(d.join("tree.ldif"))
            .output()
            .expect("slapadd is installed (deploy/local/setup.sh)");
        assert!(out.status.success(), "slapadd: {}", String::from_utf8_lossy(&out.stderr));
        let mut slapd = Slapd { dir, port: free_port(), ca_file, child: None };
        slapd.run();
        slapd
    }

    /// Starts (or restarts) the server on its port.
    pub fn run(&mut self) {
        let d = self.dir.path();
        let child = std::process::Command::new("slapd")
            .arg("-d")
            .arg("0")
            .arg("-f")
            .arg(d.join("slapd.conf"))
            .arg("-h")
            .arg(format!("ldap://127.0.0.1:{}/", self.port))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(d.join("slapd.log")).unwrap())
            .spawn()
            .expect("slapd is installed (deploy/local/setup.sh)");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("slapd did not listen: {}", std::fs::read_to_string(d.join("slapd.log")).unwrap_or_default());
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Changes an entry as the directory's administrator would (ldapmodify).
    pub fn modify(&self, ldif: &str) {
        use std::io::Write as _;
        let mut child = std::process::Command::new("ldapmodify")
            .args(["-x", "-H", &format!("ldap://127.0.0.1:{}/", self.port), "-D", &format!("cn=admin,{SUFFIX}")])
            .args(["-w", ROOT_PW])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("ldapmodify is installed (deploy/local/setup.sh)");
        child.stdin.take().unwrap().write_all(ldif.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success(), "ldapmodify failed");
    }

    /// Points a configuration at this directory: StartTLS, the test CA, the service account.
    pub fn configure(&self, c: &mut server::Config) {
        c.ldap_url = format!("ldap://127.0.0.1:{}", self.port);
        c.ldap_starttls = true;
        c.ldap_ca_file = path_str(&self.ca_file);
        c.ldap_bind_dn = format!("cn=portcullis,ou=services,{SUFFIX}");
        c.ldap_bind_password = server::config::Secret::new(SERVICE_PW);
        c.ldap_user_base = format!("ou=people,{SUFFIX}");
        c.ldap_user_filter = "(&(objectClass=inetOrgPerson)(uid={username})(!(employeeType=disabled)))".into();
        c.ldap_group_base = format!("ou=groups,{SUFFIX}");
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
