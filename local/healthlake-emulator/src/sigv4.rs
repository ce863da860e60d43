//! SigV4 verification by re-signing: the request is signed again with the
//! secret of its access key, the time, Region and service of its credential
//! scope, and the headers it says it signed; the signatures must match.
//!
//! The clock is not checked (the emulator runs on virtual time): a request
//! signed at any `x-amz-date` passes when its signature is right.

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use axum::http::HeaderMap;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use crate::error::{ApiError, ErrorKind};

/// The SigV4 signing name of HealthLake.
pub(crate) const SERVICE: &str = "healthlake";

/// The SigV4 signing name of S3.
pub(crate) const S3_SERVICE: &str = "s3";

pub(crate) const MISSING_TOKEN: &str = "Missing Authentication Token";
pub(crate) const UNRECOGNIZED_CLIENT: &str = "The security token included in the request is invalid.";
pub(crate) const INVALID_SIGNATURE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// A request as received: method, URI exactly as sent (path and query),
/// headers and body.
pub(crate) struct Received<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

struct Authorization<'a> {
    access_key: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn incomplete(message: &str) -> ApiError {
    ApiError::new(ErrorKind::IncompleteSignature, message)
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, ApiError> {
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256")
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| {
            incomplete("Unsupported authorization type: the emulator verifies AWS4-HMAC-SHA256 only")
        })?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim) {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(incomplete(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, _date, region, service, "aws4_request"] = scope[..] else {
        return Err(incomplete(&format!(
            "Credential should be of the form ACCESS_KEY/DATE/REGION/SERVICE/aws4_request, not '{credential}'"
        )));
    };
    Ok(Authorization {
        access_key,
        region,
        service,
        signed_headers: signed.split(';').filter(|h| !h.is_empty()).collect(),
        signature,
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Verifies `request`'s SigV4 signature against `credentials` (access key →
/// secret). The errors are AWS's: no `Authorization` →
/// `MissingAuthenticationTokenException`, an unknown access key →
/// `UnrecognizedClientException`, a signature that does not match (or a
/// scope of another service) → `InvalidSignatureException`, a malformed
/// header → `IncompleteSignatureException`.
pub(crate) fn verify(request: &Received, credentials: &BTreeMap<String, String>) -> Result<(), ApiError> {
    verify_service(request, credentials, SERVICE)
}

/// [`verify`] for the signing name `service`. For `s3` the canonical URI is
/// the path as sent (encoded once, not normalized), as S3 signs it.
pub(crate) fn verify_service(
    request: &Received,
    credentials: &BTreeMap<String, String>,
    expected_service: &str,
) -> Result<(), ApiError> {
    let Some(value) = header(request.headers, "authorization") else {
        return Err(ApiError::new(
            ErrorKind::MissingAuthenticationToken,
            MISSING_TOKEN,
        ));
    };
    let auth = parse_authorization(value)?;
    let Some(secret) = credentials.get(auth.access_key) else {
        return Err(ApiError::new(ErrorKind::UnrecognizedClient, UNRECOGNIZED_CLIENT));
    };
    if auth.service != expected_service {
        return Err(ApiError::new(
            ErrorKind::InvalidSignature,
            format!("Credential should be scoped to correct service: '{expected_service}'. "),
        ));
    }
    let Some(date) = header(request.headers, "x-amz-date") else {
        return Err(incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ));
    };
    let time: SystemTime = DateTime::strptime("%Y%m%dT%H%M%SZ", date)
        .ok()
        .and_then(|dt| dt.to_zoned_datetime(TimeZone::UTC).ok())
        .map(|zoned| zoned.timestamp())
        .and_then(|ts| SystemTime::try_from(ts).ok())
        .ok_or_else(|| incomplete(&format!("Invalid X-Amz-Date '{date}'")))?;
    let mismatch = || ApiError::new(ErrorKind::InvalidSignature, INVALID_SIGNATURE);
    if !auth.signed_headers.contains(&"host") {
        return Err(mismatch());
    }
    let mut signed = Vec::new();
    for name in &auth.signed_headers {
        let mut found = false;
        for value in request.headers.get_all(*name) {
            let value = value.to_str().map_err(|_| mismatch())?;
            signed.push((*name, value));
            found = true;
        }
        if !found {
            return Err(mismatch());
        }
    }
    let token = auth
        .signed_headers
        .contains(&"x-amz-security-token")
        .then(|| header(request.headers, "x-amz-security-token"))
        .flatten();
    let body = match header(request.headers, "x-amz-content-sha256") {
        Some(hash) => SignableBody::Precomputed(hash.to_owned()),
        None => SignableBody::Bytes(request.body),
    };
    let identity = Credentials::new(
        auth.access_key,
        secret,
        token.map(str::to_owned),
        None,
        "hlx-emulator",
    )
    .into();
    let mut settings = SigningSettings::default();
    // Whatever the client signed is signed again.
    settings.excluded_headers = None;
    if expected_service == S3_SERVICE {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(auth.region)
        .name(auth.service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|_| mismatch())?
        .into();
    let signable = SignableRequest::new(request.method, request.uri, signed.into_iter(), body)
        .map_err(|_| mismatch())?;
    let expected = sign(signable, &params).map_err(|_| mismatch())?;
    if constant_time_eq(expected.signature().as_bytes(), auth.signature.as_bytes()) {
        Ok(())
    } else {
        Err(mismatch())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn signed(secret: &str, uri: &str, body: &[u8]) -> HeaderMap {
        let identity = Credentials::new("AKID", secret, None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("healthlake")
            .time(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_693_057_616))
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let headers = [
            ("host", "localhost:4599"),
            ("content-type", "application/fhir+json"),
        ];
        let request =
            SignableRequest::new("POST", uri, headers.into_iter(), SignableBody::Bytes(body)).unwrap();
        let (instructions, _) = sign(request, &params).unwrap().into_parts();
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(name, HeaderValue::from_static(value));
        }
        for header in instructions.into_parts().0 {
            map.insert(header.name(), HeaderValue::from_str(header.value()).unwrap());
        }
        map
    }

    #[test]
    fn a_resigned_request_verifies_and_any_change_breaks_it() {
        let credentials: BTreeMap<String, String> = [("AKID".to_owned(), "s3cret".to_owned())].into();
        let uri = "/datastore/abc/r4/$export?_type=Patient,Observation";
        let headers = signed("s3cret", uri, b"{}");
        let received = |uri, body| Received {
            method: "POST",
            uri,
            headers: &headers,
            body,
        };
        assert_eq!(verify(&received(uri, b"{}"), &credentials), Ok(()));
        let err = verify(&received(uri, b"{ }"), &credentials).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidSignature);
        let err = verify(
            &received("/datastore/abc/r4/$export?_type=Patient", b"{}"),
            &credentials,
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidSignature);
        let wrong = signed("other", uri, b"{}");
        let err = verify(
            &Received {
                method: "POST",
                uri,
                headers: &wrong,
                body: b"{}",
            },
            &credentials,
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidSignature);
        let err = verify(&received(uri, b"{}"), &BTreeMap::new()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnrecognizedClient);
        let empty = HeaderMap::new();
        let err = verify(
            &Received {
                method: "POST",
                uri,
                headers: &empty,
                body: b"{}",
            },
            &credentials,
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::MissingAuthenticationToken);
    }
}
