//! A tag's history (or a repository's): every push, move, delete and restore, with a way to
//! put an earlier image back for those who may push.

use std::collections::HashMap;

use leptos::prelude::*;

use super::super::components::*;
use super::super::{signed_in_or_visitor, RepositoryPath};
use super::{repository_header, repository_name};
use crate::api::images::{get_repository_history, RestoreTag};
use crate::model::{short_digest, RepositoryHistoryView, TagMove};

/// A repository's history page: the latest moves of all its tags, deleted ones included.
#[component]
pub fn RepositoryHistoryPage() -> impl IntoView {
    let name = repository_name();
    let restore = ServerAction::<RestoreTag>::new();
    let data = Resource::new(move || (name.get(), restore.version().get()), |(n, _)| get_repository_history(n));
    signed_in_or_visitor(move |_| {
        loaded(data, move |d: RepositoryHistoryView| {
            let name = d.head.name.clone();
            view! {
                {repository_header(&d.head, RepositoryPath::HISTORY)}
                {if d.moves.is_empty() {
                    view! {
                        <EmptyState title="No history yet">
                            <p>"Every push, move, delete and restore of a tag shows here."</p>
                        </EmptyState>
                    }.into_any()
                } else {
                    view! {
                        <div class="max-w-3xl">
                            <TagHistoryCard repository=name moves=d.moves can_push=d.head.abilities.push restore show_tags=true/>
                        </div>
                    }.into_any()
                }}
            }
        })
    })
}

/// The moves, newest first. `show_tags` names each move's tag (the repository page).
#[component]
pub fn TagHistoryCard(
    repository: String,
    moves: Vec<TagMove>,
    can_push: bool,
    restore: ServerAction<RestoreTag>,
    show_tags: bool,
) -> impl IntoView {
    let error = action_error(restore);
    // Where each tag points now, as its newest move says (none: deleted).
    let mut now: HashMap<String, Option<String>> = HashMap::new();
    for m in &moves {
        now.entry(m.tag.clone()).or_insert_with(|| m.digest.clone());
    }
    let rows = moves
        .into_iter()
        .map(|m| {
            // What this move is about: the image it put there, or the one it deleted.
            let image = m.digest.clone().or_else(|| m.previous_digest.clone());
            let earlier = image.clone().filter(|d| now.get(&m.tag).is_some_and(|cur| cur.as_ref() != Some(d)));
            let (repo, tag) = (repository.clone(), m.tag.clone());
            let put_back = earlier.filter(|_| can_push).map(move |digest| {
                let question = format!(
                    "Point {repo}:{tag} at {} again? Whoever pulls {tag} from now on gets that image.",
                    short_digest(&digest)
                );
                view! {
                    <ConfirmAction action=restore label="Put back…" question yes="Yes, put it back" calm=true>
                        <input type="hidden" name="repository" value=repo/>
                        <input type="hidden" name="tag" value=tag/>
                        <input type="hidden" name="digest" value=digest.clone()/>
                    </ConfirmAction>
                }
            });
            let deleted = m.digest.is_none();
            view! {
                <li class="flex flex-wrap items-start justify-between gap-2 py-2 text-sm" data-move=m.source.clone()>
                    <div class="min-w-0">
                        {show_tags.then(|| view! { <span class="mr-2 font-mono text-slate-900">{m.tag.clone()}</span> })}
                        <span class="text-slate-700">{m.describe()}</span>
                        " · " {time_view(m.at)}
                        {image.map(|d| view! {
                            <code class=if deleted { "ml-2 text-xs text-slate-400 line-through" } else { "ml-2 text-xs text-slate-600" } title=d.clone()>
                                {short_digest(&d).to_string()}
                            </code>
                        })}
                    </div>
                    {put_back}
                </li>
            }
        })
        .collect_view();
    view! {
        <Card title=if show_tags { "Tag history" } else { "History of this tag" }>
            <FormError error/>
            <ol class="divide-y divide-slate-100">{rows}</ol>
        </Card>
    }
    .into_any()
}
