//! One explained life per tag: the tag page's details with everything that applies to the
//! tag, together (the tag rules that cover it, what its cleanup policy does with it, its
//! signature, its namespace's storage), for the page and the API alike.

use crate::backend::access::principal::Principal;
use crate::backend::gate;
use crate::backend::org::namespaces::NamespaceRef;
use crate::backend::AppState;
use crate::error::AppResult;
use crate::model::{TagDetail, TagLife};

use super::{browse, cleanup};

/// Tag `tag_id` with what applies to it (for whoever sees its repository).
pub async fn tag_detail(state: &AppState, p: &Principal, tag_id: i64) -> AppResult<TagDetail> {
    let mut d = browse::tag_detail(state, p, tag_id).await?;
    let (repo, tag) = (d.repository.as_str(), d.tag.name.as_str());
    let quota = match repo.split_once('/') {
        Some((ns, _)) => Some(gate::quota::get(state, p, &NamespaceRef::Name(ns.to_string())).await?),
        None => None,
    };
    let attached = gate::referrers::attached(state, repo, &d.tag.digest).await?;
    let signed = d.tag.signed || attached.iter().any(|a| a.kind == "signature");
    d.life = TagLife {
        rules: gate::rules::covering(state, repo, tag).await?,
        cleanup: cleanup::verdict(state, repo, tag).await?,
        signature: gate::signing::state_of(state, repo, &d.tag.digest, signed).await,
        quota,
        attached,
    };
    Ok(d)
}
