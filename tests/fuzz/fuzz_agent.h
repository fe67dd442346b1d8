/*
 * tests/fuzz/fuzz_agent.h - a test-only key recovery agent.
 *
 * Owns: one EC P-256 key and its self-signed certificate (keyUsage
 * keyAgreement, valid for a century), made for the fuzz targets: the kra
 * target opens envelopes as this agent, and tests/fuzz/seeds.c wraps the
 * envelope and bundle seeds to it.
 * Never: used for anything but tests; the key is public by being here.
 */
#ifndef CERTSYNC_FUZZ_AGENT_H
#define CERTSYNC_FUZZ_AGENT_H

static const char agent_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgn+PpFF8UyDIxYlyW\n"
    "GLGpELLrhUbYdribaWx8uz3KqROhRANCAARO7iIP9lTQQaHWCWiCaAHjkn1uNY+G\n"
    "fEzLNgQP1ea2MfYDmUJVqLfXqnedofU8oSFsKGwZMYu3XSSKva0MEu8P\n"
    "-----END PRIVATE KEY-----\n"
;
static const char agent_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBzTCCAXOgAwIBAgIUKosnC80MSx6Ez5ShRQtLcfNnKKEwCgYIKoZIzj0EAwIw\n"
    "MzExMC8GA1UEAwwoY2VydHN5bmMgZnV6eiByZWNvdmVyeSBhZ2VudCAodGVzdCBv\n"
    "bmx5KTAgFw0yNjEyMDQyMDQ0MDNaGA8yMTI2MTExMDIwNDQwM1owMzExMC8GA1UE\n"
    "AwwoY2VydHN5bmMgZnV6eiByZWNvdmVyeSBhZ2VudCAodGVzdCBvbmx5KTBZMBMG\n"
    "ByqGSM49AgEGCCqGSM49AwEHA0IABE7uIg/2VNBBodYJaIJoAeOSfW41j4Z8TMs2\n"
    "BA/V5rYx9gOZQlWot9eqd52h9TyhIWwobBkxi7ddJIq9rQwS7w+jYzBhMB0GA1Ud\n"
    "DgQWBBS7qySPLvU9nHvYYDKe6WQ7GT7djTAfBgNVHSMEGDAWgBS7qySPLvU9nHvY\n"
    "YDKe6WQ7GT7djTAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIDCDAKBggq\n"
    "hkjOPQQDAgNIADBFAiBZx6j/mYa9Ya5EDBdDX02rFIHSBecS7T1+LqXY/GvG9gIh\n"
    "ANkRn6BVM38IXI/JLCSCx2LnRAlqsIPXcoXua3DASi5c\n"
    "-----END CERTIFICATE-----\n"
;

#endif
