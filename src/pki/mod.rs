//! The issuer PKI, certificates, the security object and CMS (DESIGN.md §6).
