//! The route table and the routing: which resource (`/exports`,
//! `/exports/{id}`, `/imports`, `/imports/{id}`) a request is for, from API
//! Gateway's resource path and path parameters, or else the raw path.

use std::borrow::Cow;

use hlx_core::JobKind;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use percent_encoding::percent_decode_str;

/// The method key API Gateway uses for "any other method" on a resource.
pub const ANY_METHOD: &str = "x-amazon-apigateway-any-method";

/// A route and every status it can answer with; the OpenAPI description must
/// list exactly these (a test checks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    pub path: &'static str,
    /// Lower-case HTTP method, or [`ANY_METHOD`].
    pub method: &'static str,
    pub statuses: &'static [u16],
}

pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        path: "/exports",
        method: "post",
        statuses: &[200, 202, 400, 409, 413, 415, 429, 500, 503],
    },
    RouteSpec {
        path: "/exports",
        method: "get",
        statuses: &[200, 400, 429, 500, 503],
    },
    RouteSpec {
        path: "/exports/{id}",
        method: "get",
        statuses: &[200, 400, 404, 429, 500, 503],
    },
    RouteSpec {
        path: "/exports/{id}",
        method: "delete",
        statuses: &[202, 400, 404, 409, 429, 500, 501, 503],
    },
    RouteSpec {
        path: "/exports",
        method: ANY_METHOD,
        statuses: &[405],
    },
    RouteSpec {
        path: "/exports/{id}",
        method: ANY_METHOD,
        statuses: &[405],
    },
    RouteSpec {
        path: "/imports",
        method: "post",
        statuses: &[200, 202, 400, 409, 413, 415, 429, 500, 501, 503],
    },
    RouteSpec {
        path: "/imports",
        method: "get",
        statuses: &[200, 400, 429, 500, 503],
    },
    RouteSpec {
        path: "/imports/{id}",
        method: "get",
        statuses: &[200, 400, 404, 429, 500, 503],
    },
    RouteSpec {
        path: "/imports",
        method: ANY_METHOD,
        statuses: &[405],
    },
    RouteSpec {
        path: "/imports/{id}",
        method: ANY_METHOD,
        statuses: &[405],
    },
];

/// Which resource a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `/exports`, `/imports`.
    Jobs(JobKind),
    /// `/exports/{id}`, `/imports/{id}`.
    Job(JobKind, String),
}

impl Resource {
    pub fn template(&self) -> &'static str {
        match self {
            Self::Jobs(JobKind::Export) => "/exports",
            Self::Job(JobKind::Export, _) => "/exports/{id}",
            Self::Jobs(JobKind::Import) => "/imports",
            Self::Job(JobKind::Import, _) => "/imports/{id}",
        }
    }
}

/// The collection path of a kind's jobs, without its slash: `exports`, `imports`.
fn collection(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Export => "exports",
        JobKind::Import => "imports",
    }
}

/// Which resource the request is for, from API Gateway's routing or the path.
pub fn resource(request: &Request) -> Option<Resource> {
    if let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref()
        && let Some(resource_path) = context.resource_path.as_deref()
    {
        let (kind, item) = JobKind::ALL.into_iter().find_map(|kind| {
            let rest = resource_path.strip_prefix('/')?.strip_prefix(collection(kind))?;
            match rest {
                "" => Some((kind, false)),
                "/{id}" => Some((kind, true)),
                _ => None,
            }
        })?;
        if !item {
            return Some(Resource::Jobs(kind));
        }
        return request
            .path_parameters_ref()
            .and_then(|p| p.first("id"))
            .map(|id| Resource::Job(kind, id.to_owned()));
    }
    let path = match request.raw_http_path() {
        "" => request.uri().path(),
        raw => raw,
    };
    let (kind, rest) = JobKind::ALL.into_iter().find_map(|kind| {
        let rest = path.strip_prefix('/')?.strip_prefix(collection(kind))?;
        Some((kind, rest))
    })?;
    if rest.is_empty() {
        return Some(Resource::Jobs(kind));
    }
    let id = rest.strip_prefix('/')?;
    if id.is_empty() || id.contains('/') {
        return None;
    }
    Some(Resource::Job(kind, percent_decode(id)?))
}

/// `%XX` escapes decoded, by the `percent-encoding` crate (a `%` not followed
/// by two hex digits stays as it is; `+` stays `+`). `None` when the decoded
/// bytes are not UTF-8: no job has such an id (API Gateway would refuse the
/// request), so the path matches no route, as the emulator's S3 refuses such
/// a key (`InvalidURI`) rather than replacing the bytes.
pub fn percent_decode(text: &str) -> Option<String> {
    percent_decode_str(text).decode_utf8().ok().map(Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_what_is_not_an_escape_and_refuses_what_is_not_utf8() {
        assert_eq!(percent_decode("api-k-%41").as_deref(), Some("api-k-A"));
        assert_eq!(percent_decode("a%20b+c%2Fd").as_deref(), Some("a b+c/d"));
        assert_eq!(percent_decode("caf%C3%A9").as_deref(), Some("café"));
        // Not escapes: kept as written. The hand-written decoder this
        // replaced read `%+4` as the byte 4 (`u8::from_str_radix` takes a sign).
        assert_eq!(percent_decode("a%+4").as_deref(), Some("a%+4"));
        assert_eq!(percent_decode("50%").as_deref(), Some("50%"));
        assert_eq!(percent_decode("bad%zz").as_deref(), Some("bad%zz"));
        // Bytes that are not UTF-8: no id at all (it replaced them with U+FFFD).
        assert_eq!(percent_decode("x%FF"), None);
    }
}
