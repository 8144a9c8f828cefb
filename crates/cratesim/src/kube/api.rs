//! The HTTP surface of the simulated API server: path parsing, verbs, list/get/create/replace/
//! patch/delete and watch, with the conventions real clients depend on (resourceVersion on every
//! list, one JSON watch event per line, Tables on request, Status errors).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::ApiServer;
use super::discovery;
use super::pods;
use super::query::Query;
use super::registry::{self, Resource};
use super::selectors::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{Event, EventType, as_map, check_preconditions, metadata_mut};
use super::table::{table, wants_table};
use crate::portforward;
use crate::proxy::{self, Via};

/// The router serving the Kubernetes API of `server`.
pub fn router(server: Arc<ApiServer>) -> Router {
    Router::new().fallback(handle).with_state(server)
}

/// What handlers need from an HTTP request besides its route.
#[derive(Clone, Copy)]
pub struct Incoming<'a> {
    pub method: &'a Method,
    pub query: &'a Query,
    pub accept: &'a str,
    pub content_type: &'a str,
    pub authorization: Option<&'a str>,
    pub body: &'a [u8],
}

/// What a request path names.
#[derive(Debug, PartialEq)]
enum Route {
    Version,
    /// `/api` (core) or `/apis` (named groups).
    Root {
        core: bool,
    },
    GroupVersion {
        group: String,
        version: String,
    },
    Collection {
        resource: &'static Resource,
        namespace: Option<String>,
    },
    Object {
        resource: &'static Resource,
        namespace: String,
        name: String,
    },
    Subresource {
        resource: &'static Resource,
        namespace: String,
        name: String,
        sub: String,
        /// The path after the subresource (for `proxy`).
        rest: String,
    },
    /// `/_sim/report`: the evidence (see [`crate::evidence`]).
    SimReport,
    /// `/_sim/faults`: inject faults (see [`crate::faults`]).
    SimFaults,
    /// `/_sim/jwt/token`: a token signed by the simulator's issuer (see [`crate::jwt`]).
    SimJwtToken,
    /// `/.well-known/jwks.json`: the simulator's JWK set.
    Jwks,
    /// `/_crate/<namespace>/<pod>/<rest>`: straight to the pod's CrateDB node.
    Direct {
        namespace: String,
        pod: String,
        rest: String,
    },
}

fn parse_route(path: &str) -> Result<Route, ApiError> {
    let segments: Vec<&str> = path
        .trim_end_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segments.as_slice() {
        ["version"] => return Ok(Route::Version),
        ["_sim", "report"] => return Ok(Route::SimReport),
        ["_sim", "faults"] => return Ok(Route::SimFaults),
        ["_sim", "jwt", "token"] => return Ok(Route::SimJwtToken),
        [".well-known", "jwks.json"] => return Ok(Route::Jwks),
        ["_crate", namespace, pod, rest @ ..] => {
            return Ok(Route::Direct {
                namespace: namespace.to_string(),
                pod: pod.to_string(),
                rest: rest.join("/"),
            });
        }
        ["api"] => return Ok(Route::Root { core: true }),
        ["apis"] => return Ok(Route::Root { core: false }),
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::no_route(path)),
    };
    let find = |plural: &str| registry::find(group, version, plural).ok_or_else(|| ApiError::no_route(path));
    Ok(match rest {
        [] => Route::GroupVersion {
            group: group.into(),
            version: version.into(),
        },
        ["namespaces", namespace, plural, tail @ ..] if find(plural).is_ok_and(|r| r.namespaced) => {
            let resource = find(plural)?;
            let namespace = namespace.to_string();
            match tail {
                [] => Route::Collection {
                    resource,
                    namespace: Some(namespace),
                },
                [name] => Route::Object {
                    resource,
                    namespace,
                    name: name.to_string(),
                },
                [name, sub, rest @ ..] => Route::Subresource {
                    resource,
                    namespace,
                    name: name.to_string(),
                    sub: sub.to_string(),
                    rest: rest.join("/"),
                },
            }
        }
        [plural] => Route::Collection {
            resource: find(plural)?,
            namespace: None,
        },
        [plural, name] if find(plural).is_ok_and(|r| !r.namespaced) => Route::Object {
            resource: find(plural)?,
            namespace: String::new(),
            name: name.to_string(),
        },
        [plural, name, sub, rest @ ..] if find(plural).is_ok_and(|r| !r.namespaced) => Route::Subresource {
            resource: find(plural)?,
            namespace: String::new(),
            name: name.to_string(),
            sub: sub.to_string(),
            rest: rest.join("/"),
        },
        _ => return Err(ApiError::no_route(path)),
    })
}

/// The namespace and object a write request targets, for the evidence; `None` for requests
/// that are not Kubernetes writes (discovery, the proxy to CrateDB, the simulator's own routes).
fn write_target(route: &Route) -> Option<(Option<String>, Option<String>)> {
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    match route {
        Route::Collection { namespace, .. } => Some((namespace.clone(), None)),
        Route::Object { namespace, name, .. } => Some((non_empty(namespace), Some(name.clone()))),
        Route::Subresource { sub, .. } if sub == "proxy" => None,
        Route::Subresource { namespace, name, .. } => Some((non_empty(namespace), Some(name.clone()))),
        _ => None,
    }
}

fn json_response(status: u16, content_type: &str, body: &Value) -> Response {
    let code = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK);
    (
        code,
        [("content-type", content_type.to_string())],
        body.to_string(),
    )
        .into_response()
}

fn ok(body: &Value) -> Response {
    json_response(200, "application/json", body)
}

async fn handle(State(server): State<Arc<ApiServer>>, request: Request) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let route = parse_route(uri.path());
    // `pods/<name>/portforward` upgrades the connection: it needs the request itself, not its
    // body.
    if let Ok(Route::Subresource {
        resource,
        namespace,
        name,
        sub,
        ..
    }) = &route
        && resource.kind == "Pod"
        && sub == "portforward"
    {
        if let Some(response) = injected_fault(&server, &method, resource.plural).await {
            return response;
        }
        let query = Query::parse(uri.query());
        let (mut parts, _body) = request.into_parts();
        return portforward::connect(&server, namespace, name, &query, &mut parts).await;
    }
    let headers = request.headers().clone();
    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let accept = header("accept");
    let content_type = header("content-type");
    let query = Query::parse(uri.query());
    let result = match route {
        Err(e) => Err(e),
        Ok(route) => {
            let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
            let request = Incoming {
                method: &method,
                query: &query,
                accept: &accept,
                content_type: &content_type,
                authorization,
                body: &body,
            };
            let resource = match &route {
                Route::Collection { resource, .. } | Route::Object { resource, .. } => Some(resource.plural),
                Route::Subresource { resource, sub, .. } if sub != "proxy" => Some(resource.plural),
                _ => None,
            };
            if let Some(plural) = resource
                && let Some(response) = injected_fault(&server, &method, plural).await
            {
                return response;
            }
            let target = write_target(&route);
            let result = dispatch(&server, route, &request).await;
            // Evidence: every successful Kubernetes write made through the API.
            if let (Some((namespace, name)), Ok(response)) = (target, &result)
                && method != Method::GET
                && method != Method::HEAD
                && response.status().is_success()
            {
                server.evidence.kube_write(
                    server.clock.now(),
                    method.as_str(),
                    uri.path(),
                    namespace.as_deref(),
                    name.as_deref(),
                );
            }
            result
        }
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Injected latency and errors for a request on `plural` come before anything else, as a slow
/// or flaky API server's would: the request waits, then fails (`Some`) or is served (`None`).
async fn injected_fault(server: &ApiServer, method: &Method, plural: &str) -> Option<Response> {
    let delay = server.api_faults.latency(method.as_str(), Some(plural));
    if !delay.is_zero() {
        tokio::time::sleep(server.clock.real(delay)).await;
    }
    server
        .api_faults
        .take(method.as_str(), Some(plural))
        .map(IntoResponse::into_response)
}

async fn dispatch(
    server: &Arc<ApiServer>,
    route: Route,
    request: &Incoming<'_>,
) -> Result<Response, ApiError> {
    let Incoming {
        method,
        query,
        accept,
        content_type,
        body,
        ..
    } = *request;
    match (method, route) {
        (&Method::GET, Route::Version) => Ok(ok(&discovery::version())),
        (&Method::GET, Route::SimReport) => Ok(ok(&server.report())),
        (&Method::GET, Route::Jwks) => {
            let issuer = crate::jwt::issuer().map_err(ApiError::internal)?;
            Ok(ok(&issuer.jwks()))
        }
        (&Method::POST, Route::SimJwtToken) => {
            let request: crate::jwt::TokenRequest = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("invalid token request: {e}")))?;
            let token = request.mint(server.clock.now()).map_err(ApiError::bad_request)?;
            let mut response = Response::new(axum::body::Body::from(format!("{token}\n")));
            if let Ok(value) = "text/plain; charset=utf-8".parse() {
                response.headers_mut().insert("content-type", value);
            }
            Ok(response)
        }
        (&Method::POST, Route::SimFaults) => {
            let request: crate::faults::FaultRequest = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("invalid fault request: {e}")))?;
            crate::faults::apply(server, &request.faults)?;
            Ok(ok(&json!({"applied": request.faults.len()})))
        }
        (&Method::GET, Route::Root { core }) => Ok(match discovery::negotiate_aggregated(accept) {
            Some(v) => json_response(
                200,
                &discovery::aggregated_content_type(v),
                &discovery::aggregated(core, v),
            ),
            None if core => ok(&discovery::core_versions()),
            None => ok(&discovery::group_list()),
        }),
        (&Method::GET, Route::GroupVersion { group, version }) => discovery::resource_list(&group, &version)
            .map(|list| ok(&list))
            .ok_or_else(|| ApiError::no_route(&format!("/apis/{group}/{version}"))),
        (&Method::GET, Route::Collection { resource, namespace }) if query.flag("watch") => {
            watch(server.clone(), resource, namespace, query, wants_table(accept))
        }
        (&Method::GET, Route::Collection { resource, namespace }) => {
            list(server, resource, namespace.as_deref(), query, accept)
        }
        (
            &Method::GET,
            Route::Object {
                resource,
                namespace,
                name,
            },
        ) => {
            let store = server.store();
            let object = store
                .get(resource.store_key(), &namespace, &name)
                .ok_or_else(|| ApiError::not_found(&resource.qualified_plural(), &name))?;
            if wants_table(accept) {
                return Ok(ok(&table(resource, &[object], store.rv(), server.clock.now())));
            }
            Ok(ok(object))
        }
        (&Method::POST, Route::Collection { resource, namespace }) => {
            let object = parse_body(body, content_type)?;
            let namespace = collection_namespace(resource, namespace, &object)?;
            let now = server.clock.rfc3339();
            let created = server.store().create(
                resource.store_key(),
                &resource.qualified_plural(),
                &namespace,
                with_type(resource, object),
                &now,
            )?;
            Ok(json_response(201, "application/json", &created))
        }
        (
            &Method::PUT,
            Route::Object {
                resource,
                namespace,
                name,
            },
        ) => {
            let object = parse_body(body, content_type)?;
            let replaced = server.store().replace(
                resource.store_key(),
                &resource.qualified_plural(),
                &namespace,
                &name,
                with_type(resource, object),
            )?;
            Ok(ok(&replaced))
        }
        (
            &Method::PATCH,
            Route::Object {
                resource,
                namespace,
                name,
            },
        ) => patch_object(server, resource, &namespace, &name, content_type, body),
        (
            &Method::DELETE,
            Route::Object {
                resource,
                namespace,
                name,
            },
        ) => {
            let options = delete_options(body, query)?;
            let mut store = server.store();
            let qualified = resource.qualified_plural();
            let current = store
                .get(resource.store_key(), &namespace, &name)
                .ok_or_else(|| ApiError::not_found(&qualified, &name))?;
            check_preconditions(&qualified, &name, current, &options)?;
            // Pods stop gracefully: the API server marks them and the kubelet removes them once
            // the containers have stopped (see `pods::delete`).
            if resource.kind == "Pod" {
                let grace = options.get("gracePeriodSeconds").and_then(Value::as_i64);
                let deleted = pods::delete(&mut store, &server.clock, &namespace, &name, grace)?;
                return Ok(ok(&deleted));
            }
            Ok(ok(&store.remove(
                resource.store_key(),
                &qualified,
                &namespace,
                &name,
            )?))
        }
        (
            method,
            Route::Subresource {
                resource,
                namespace,
                name,
                sub,
                ..
            },
        ) if resource.kind == "StatefulSet" && sub == "scale" => {
            scale(server, method, resource, &namespace, &name, content_type, body)
        }
        (
            &Method::POST,
            Route::Subresource {
                resource,
                namespace,
                name,
                sub,
                ..
            },
        ) if resource.kind == "Pod" && sub == "eviction" => {
            evict(server, &namespace, &name, content_type, body)
        }
        (
            _,
            Route::Subresource {
                resource,
                namespace,
                name,
                sub,
                rest,
            },
        ) if resource.kind == "Pod" && sub == "proxy" => {
            proxy::forward(server, &namespace, &name, &rest, request, Via::PodProxy).await
        }
        (_, Route::Direct { namespace, pod, rest }) => {
            proxy::forward(server, &namespace, &pod, &rest, request, Via::PodIp).await
        }
        (_, Route::Subresource { resource, sub, .. }) => Err(ApiError::method_not_allowed(format!(
            "cratesim: the {sub} subresource of {} is not simulated yet",
            resource.plural
        ))),
        (method, route) => Err(ApiError::method_not_allowed(format!(
            "cratesim: {method} is not supported on {route:?}"
        ))),
    }
}

/// `statefulsets/<name>/scale`: an `autoscaling/v1` Scale view of `spec.replicas`; writing it
/// (PATCH with a merge patch, or PUT) changes the StatefulSet.
fn scale(
    server: &ApiServer,
    method: &Method,
    resource: &'static Resource,
    namespace: &str,
    name: &str,
    content_type: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let qualified = resource.qualified_plural();
    let mut store = server.store();
    let mut sts = store
        .get(resource.store_key(), namespace, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&qualified, name))?;
    let replicas = match *method {
        Method::GET => None,
        Method::PATCH | Method::PUT => {
            let change = if *method == Method::PUT {
                parse_body(body, content_type)?
            } else {
                match parse_patch(body, content_type)? {
                    PatchKind::Merge(p) | PatchKind::Apply(p) | PatchKind::Strategic(p) => p,
                    PatchKind::Json(_) => {
                        return Err(ApiError::unsupported_media_type("application/json-patch+json"));
                    }
                }
            };
            let wanted = change.pointer("/spec/replicas").and_then(Value::as_i64);
            match wanted {
                Some(n) if n >= 0 => Some(n),
                Some(n) => {
                    return Err(ApiError::invalid(
                        &qualified,
                        name,
                        &format!("spec.replicas: Invalid value: {n}: must be greater than or equal to 0"),
                    ));
                }
                None => sts.pointer("/spec/replicas").and_then(Value::as_i64),
            }
        }
        _ => {
            return Err(ApiError::method_not_allowed(format!(
                "{method} is not supported on statefulsets/scale"
            )));
        }
    };
    if let Some(replicas) = replicas {
        sts["spec"]["replicas"] = json!(replicas);
        metadata_mut(&mut sts).remove("resourceVersion");
        sts = store.replace(resource.store_key(), &qualified, namespace, name, sts)?;
    }
    let selector = sts
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|labels| LabelSelector::from_match_labels(labels).to_string())
        .unwrap_or_default();
    Ok(ok(&json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": name, "namespace": namespace,
            "uid": sts.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
            "resourceVersion": sts.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null),
            "creationTimestamp": sts.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null),
        },
        "spec": {"replicas": sts.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {"replicas": sts.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": selector},
    })))
}

/// `POST pods/<name>/eviction`: 201 when the pod's disruption budget allows it (the pod then
/// stops gracefully), 429 naming the budget otherwise, 500 when two budgets select the pod;
/// `deleteOptions` carries the grace period and the preconditions the final delete must meet
/// (409 when they do not hold; see `pods::evict` for the order). Like a real server (fieldValidation=Warn),
/// unknown fields such as kube-rs' `delete_options` are ignored with a `Warning` header, so the
/// grace period they carry has no effect.
fn evict(
    server: &ApiServer,
    namespace: &str,
    name: &str,
    content_type: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let eviction = parse_body(body, content_type)?;
    let known = ["apiVersion", "kind", "metadata", "deleteOptions"];
    let warnings: Vec<String> = eviction
        .as_object()
        .map(|map| {
            map.keys()
                .filter(|k| !known.contains(&k.as_str()))
                .map(|k| format!("299 - \"unknown field \\\"{k}\\\"\""))
                .collect()
        })
        .unwrap_or_default();
    let options = eviction
        .get("deleteOptions")
        .cloned()
        .unwrap_or_else(|| json!({}));
    pods::evict(&mut server.store(), &server.clock, namespace, name, &options)?;
    let status =
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
    let mut response = json_response(201, "application/json", &status);
    for warning in warnings {
        if let Ok(value) = axum::http::HeaderValue::from_str(&warning) {
            response.headers_mut().append("warning", value);
        }
    }
    Ok(response)
}

/// The namespace an object is created in: the path's, which the body must not contradict.
fn collection_namespace(
    resource: &Resource,
    namespace: Option<String>,
    object: &Value,
) -> Result<String, ApiError> {
    if !resource.namespaced {
        return Ok(String::new());
    }
    let in_body = object.pointer("/metadata/namespace").and_then(Value::as_str);
    match (namespace, in_body) {
        (Some(path), Some(body)) if path != body => Err(ApiError::bad_request(format!(
            "the namespace of the provided object does not match the namespace sent on the request ({body} vs {path})"
        ))),
        (Some(path), _) => Ok(path),
        (None, _) => Err(ApiError::method_not_allowed(format!(
            "create {} needs a namespace in the path",
            resource.plural
        ))),
    }
}

/// Sets `apiVersion` and `kind` as the server does.
fn with_type(resource: &Resource, mut object: Value) -> Value {
    let map = as_map(&mut object);
    map.insert("apiVersion".into(), json!(resource.group_version()));
    map.insert("kind".into(), json!(resource.kind));
    object
}

fn parse_body(body: &[u8], content_type: &str) -> Result<Value, ApiError> {
    if !content_type.is_empty() && !content_type.starts_with("application/json") {
        return Err(ApiError::unsupported_media_type(content_type));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body of the request could not be decoded as JSON: {e}"
        ))
    })
}

/// The patch kinds Kubernetes accepts, by Content-Type.
enum PatchKind {
    /// RFC 7386.
    Merge(Value),
    /// Kubernetes' strategic merge patch ([`super::strategic`]).
    Strategic(Value),
    /// RFC 6902.
    Json(json_patch::Patch),
    /// Server-side apply: create if missing, else merge. Field ownership and its conflicts are
    /// not modelled yet.
    Apply(Value),
}

fn parse_patch(body: &[u8], content_type: &str) -> Result<PatchKind, ApiError> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    let invalid = |e: &dyn std::fmt::Display| ApiError::bad_request(format!("invalid patch: {e}"));
    match media {
        "application/merge-patch+json" => serde_json::from_slice(body)
            .map(PatchKind::Merge)
            .map_err(|e| invalid(&e)),
        "application/strategic-merge-patch+json" => serde_json::from_slice(body)
            .map(PatchKind::Strategic)
            .map_err(|e| invalid(&e)),
        "application/json-patch+json" => serde_json::from_slice(body)
            .map(PatchKind::Json)
            .map_err(|e| invalid(&e)),
        // YAML, of which JSON is a subset.
        "application/apply-patch+yaml" => serde_yaml_ng::from_slice(body)
            .map(PatchKind::Apply)
            .map_err(|e| invalid(&e)),
        _ => Err(ApiError::unsupported_media_type(content_type)),
    }
}

fn patch_object(
    server: &ApiServer,
    resource: &'static Resource,
    namespace: &str,
    name: &str,
    content_type: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let patch = parse_patch(body, content_type)?;
    // Custom resources have no Go types, so no patch merge keys: the API server refuses a
    // strategic merge patch for them (k8s.io/apiextensions-apiserver, customresource_handler.go).
    if matches!(patch, PatchKind::Strategic(_)) && resource.group == "cloud.crate.io" {
        return Err(ApiError::strategic_patch_of_custom_resource(content_type));
    }
    let qualified = resource.qualified_plural();
    let mut store = server.store();
    let Some(current) = store.get(resource.store_key(), namespace, name).cloned() else {
        return match patch {
            PatchKind::Apply(mut object) => {
                metadata_mut(&mut object).insert("name".into(), json!(name));
                let now = server.clock.rfc3339();
                let created = store.create(
                    resource.store_key(),
                    &qualified,
                    namespace,
                    with_type(resource, object),
                    &now,
                )?;
                Ok(json_response(201, "application/json", &created))
            }
            _ => Err(ApiError::not_found(&qualified, name)),
        };
    };
    let mut patched = current;
    let carries_rv = match &patch {
        PatchKind::Merge(p) | PatchKind::Apply(p) => {
            merge_patch(&mut patched, p);
            p.pointer("/metadata/resourceVersion").is_some()
        }
        PatchKind::Strategic(p) => {
            super::strategic::strategic_merge_patch(&mut patched, p);
            p.pointer("/metadata/resourceVersion").is_some()
        }
        PatchKind::Json(p) => {
            json_patch::patch(&mut patched, p)
                .map_err(|e| ApiError::invalid(&qualified, name, &e.to_string()))?;
            false
        }
    };
    // A patch applies to the current object unless it names a resourceVersion itself.
    if !carries_rv {
        metadata_mut(&mut patched).remove("resourceVersion");
    }
    Ok(ok(&store.replace(
        resource.store_key(),
        &qualified,
        namespace,
        name,
        patched,
    )?))
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    let map = as_map(target);
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// DeleteOptions from the body (kubectl, kube-rs) or the query (the Python client).
fn delete_options(body: &[u8], query: &Query) -> Result<Value, ApiError> {
    let mut options = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
    };
    if let Some(grace) = query.number("gracePeriodSeconds") {
        options["gracePeriodSeconds"] = json!(grace);
    }
    Ok(options)
}

fn list(
    server: &ApiServer,
    resource: &'static Resource,
    namespace: Option<&str>,
    query: &Query,
    accept: &str,
) -> Result<Response, ApiError> {
    let labels = LabelSelector::parse(query.get("labelSelector"))?;
    let fields = FieldSelector::parse(query.get("fieldSelector"))?;
    let store = server.store();
    let items: Vec<&Value> = store
        .list(resource.store_key(), namespace)
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .collect();
    if wants_table(accept) {
        return Ok(ok(&table(resource, &items, store.rv(), server.clock.now())));
    }
    let list_version = resource.group_version();
    Ok(ok(&json!({
        "kind": format!("{}List", resource.kind),
        "apiVersion": list_version,
        "metadata": {"resourceVersion": store.rv().to_string()},
        "items": items,
    })))
}

/// The longest a watch stays open without `timeoutSeconds`, in simulated seconds.
const DEFAULT_WATCH_SECONDS: i64 = 1800;

/// How often a watch that allows bookmarks gets one, in simulated time (the API server's watch
/// cache sends them about once a minute).
const BOOKMARK_PERIOD: Duration = Duration::from_secs(60);

/// What a watch does with one event from the store's broadcast.
enum Step {
    /// Nothing to send (another resource, or no change visible through the selectors).
    Skip,
    Send(Value),
    /// Send this ERROR event, then end the watch.
    Fail(Value),
    /// End the watch.
    End,
}

/// Sends `step`'s line; `false` when the watch is over.
async fn deliver(tx: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>, step: Step) -> bool {
    let line = |value: Value| Ok::<Bytes, std::io::Error>(Bytes::from(format!("{value}\n")));
    match step {
        Step::Skip => true,
        Step::Send(value) => tx.send(line(value)).await.is_ok(),
        Step::Fail(value) => {
            let _ = tx.send(line(value)).await;
            false
        }
        Step::End => false,
    }
}

fn watch(
    server: Arc<ApiServer>,
    resource: &'static Resource,
    namespace: Option<String>,
    query: &Query,
    as_table: bool,
) -> Result<Response, ApiError> {
    let labels = LabelSelector::parse(query.get("labelSelector"))?;
    let fields = FieldSelector::parse(query.get("fieldSelector"))?;
    let matches = move |o: &Value| labels.matches(o) && fields.matches(o);
    let bookmarks = query.flag("allowWatchBookmarks");
    let send_initial = query.flag("sendInitialEvents");
    let timeout = Duration::from_secs(
        query
            .number("timeoutSeconds")
            .unwrap_or(DEFAULT_WATCH_SECONDS)
            .clamp(1, 86_400)
            .unsigned_abs(),
    );
    let requested: Option<u64> = match query.get("resourceVersion") {
        None | Some("0") => None,
        Some(rv) => Some(
            rv.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?,
        ),
    };

    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(256);
    // `drop_watches` ends the watches open when it is applied, so subscribe before answering.
    let mut drops = server.api_faults.watch_drops();
    // Subscribe and read the starting point under one lock, so no event falls between them.
    let (mut live, initial, start_rv, expired) = {
        let store = server.store();
        let live = store.subscribe();
        let in_scope = |r: &str, ns: &str| {
            r == resource.store_key() && namespace.as_deref().is_none_or(|want| want == ns)
        };
        let mut expired = None;
        let initial: Vec<Event> = match requested {
            Some(rv) if !send_initial && rv < store.floor() => {
                expired = Some(ApiError::expired(rv, store.floor()));
                Vec::new()
            }
            Some(rv) if !send_initial => store
                .events_since(rv)
                .into_iter()
                .filter(|e| in_scope(e.resource, &e.namespace))
                .collect(),
            _ => store
                .list(resource.store_key(), namespace.as_deref())
                .into_iter()
                .map(|o| Event {
                    rv: store.rv(),
                    kind: EventType::Added,
                    resource: resource.store_key(),
                    namespace: o
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .into(),
                    name: o
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .into(),
                    object: o.clone(),
                    previous: None,
                })
                .collect(),
        };
        (live, initial, store.rv(), expired)
    };

    let clock = server.clock.clone();
    let rv_now = start_rv;
    tokio::spawn(async move {
        let render = |object: &Value| {
            if as_table {
                table(resource, &[object], rv_now, clock.now())
            } else {
                object.clone()
            }
        };
        // A BOOKMARK as the API server sends it: an object of the watched kind carrying only the
        // resourceVersion the client may resume from.
        let bookmark = |rv: u64, metadata: Value| {
            let mut metadata = metadata;
            metadata["resourceVersion"] = json!(rv.to_string());
            json!({"type": "BOOKMARK", "object": {
                "kind": resource.kind, "apiVersion": resource.group_version(), "metadata": metadata,
            }})
        };
        if let Some(error) = expired {
            deliver(
                &tx,
                Step::Fail(json!({"type": "ERROR", "object": error.status()})),
            )
            .await;
            return;
        }
        // As the API server filters a watch through selectors: an object that starts matching is
        // ADDED, one that stops matching is DELETED (judged on the object before and after).
        let send = |event: &Event| -> Option<Value> {
            let matched = event.previous.as_ref().is_some_and(&matches);
            let kind = match event.kind {
                EventType::Deleted => matches(&event.object).then_some("DELETED"),
                EventType::Added | EventType::Modified => match (matched, matches(&event.object)) {
                    (false, true) => Some("ADDED"),
                    (true, true) => Some("MODIFIED"),
                    (true, false) => Some("DELETED"),
                    (false, false) => None,
                },
            }?;
            Some(json!({"type": kind, "object": render(&event.object)}))
        };
        // One event from the store's broadcast, after the starting point.
        let step = |received: Result<Event, RecvError>| match received {
            Ok(event)
                if event.rv > start_rv
                    && event.resource == resource.store_key()
                    && namespace.as_deref().is_none_or(|ns| ns == event.namespace) =>
            {
                send(&event).map_or(Step::Skip, Step::Send)
            }
            Ok(_) => Step::Skip,
            Err(RecvError::Lagged(_)) => {
                let gone = ApiError::expired(start_rv, start_rv);
                Step::Fail(json!({"type": "ERROR", "object": gone.status()}))
            }
            Err(RecvError::Closed) => Step::End,
        };
        for event in &initial {
            let next = send(event).map_or(Step::Skip, Step::Send);
            if !deliver(&tx, next).await {
                return;
            }
        }
        if send_initial && bookmarks {
            let end = bookmark(
                start_rv,
                json!({"annotations": {"k8s.io/initial-events-end": "true"}}),
            );
            if !deliver(&tx, Step::Send(end)).await {
                return;
            }
        }
        let deadline = tokio::time::sleep(clock.real(timeout));
        tokio::pin!(deadline);
        // A zero period would panic; a huge time scale makes the real period tiny.
        let period = clock.real(BOOKMARK_PERIOD).max(Duration::from_millis(1));
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let next = tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                dropped = drops.recv() => match dropped {
                    // Another resource's watches.
                    Ok(Some(plural)) if plural != resource.plural => Step::Skip,
                    // The stream just ends, as when the API server closes a watch; clients
                    // watch again from their last resourceVersion.
                    _ => Step::End,
                },
                _ = ticks.tick(), if bookmarks => {
                    // Every event committed up to the store's rv is already in `live`; send
                    // those first, so the bookmark never runs ahead of an undelivered event.
                    let mut rv = server.store().rv();
                    loop {
                        let received = match live.try_recv() {
                            Ok(event) => Ok(event),
                            Err(TryRecvError::Empty) => break,
                            Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
                            Err(TryRecvError::Closed) => Err(RecvError::Closed),
                        };
                        if let Ok(event) = &received {
                            rv = rv.max(event.rv);
                        }
                        if !deliver(&tx, step(received)).await {
                            return;
                        }
                    }
                    Step::Send(bookmark(rv, json!({})))
                },
                received = live.recv() => step(received),
            };
            if !deliver(&tx, next).await {
                return;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Ok(([("content-type", "application/json")], Body::from_stream(stream)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(parse_route("/version").unwrap(), Route::Version);
        assert_eq!(parse_route("/api").unwrap(), Route::Root { core: true });
        let pods = registry::find("", "v1", "pods").unwrap();
        assert_eq!(
            parse_route("/api/v1/pods").unwrap(),
            Route::Collection {
                resource: pods,
                namespace: None
            }
        );
        assert_eq!(
            parse_route("/api/v1/namespaces/ns/pods/p/eviction").unwrap(),
            Route::Subresource {
                resource: pods,
                namespace: "ns".into(),
                name: "p".into(),
                sub: "eviction".into(),
                rest: String::new(),
            }
        );
        let namespaces = registry::find("", "v1", "namespaces").unwrap();
        assert_eq!(
            parse_route("/api/v1/namespaces/ns").unwrap(),
            Route::Object {
                resource: namespaces,
                namespace: String::new(),
                name: "ns".into()
            }
        );
        let sts = registry::find("apps", "v1", "statefulsets").unwrap();
        assert_eq!(
            parse_route("/apis/apps/v1/namespaces/ns/statefulsets/s").unwrap(),
            Route::Object {
                resource: sts,
                namespace: "ns".into(),
                name: "s".into()
            }
        );
        assert!(parse_route("/apis/apps/v1/widgets").is_err());
        assert!(parse_route("/nope").is_err());
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge_patch(&mut target, &json!({"a": null, "b": {"c": 5}, "e": [1]}));
        assert_eq!(target, json!({"b": {"c": 5, "d": 3}, "e": [1]}));
    }
}
