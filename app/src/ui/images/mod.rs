//! Images: the repository page (tags, filtered, sorted and paged on the server), the tag
//! page, explore and search; here, what they share: repository lists, label chips and what a
//! delete says before it is done.

mod discover;
mod history;
mod repository;
mod settings;
mod tag;

use leptos::prelude::*;

pub use discover::{ExplorePage, SearchPage};
pub use history::RepositoryHistoryPage;
pub use repository::RepositoryPage;
pub use settings::RepositorySettingsPage;
pub use tag::TagPage;

use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::components::*;
use super::{urlencode, RepositoryPath};
use crate::model::{human_size, short_digest, RepositoryHead, RepositoryView, TagView};

/// The name of the repository whose page this is (`/repositories/*name`).
pub(super) fn repository_name() -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("name").unwrap_or_default())
}

/// The top of a repository's pages: its name and description, its namespace and tag count,
/// and the tabs between its tags, its history and (for those who may change something there)
/// its settings.
pub(super) fn repository_header(head: &RepositoryHead, current: RepositoryPath) -> impl IntoView {
    let mut tabs = vec![(RepositoryPath::TAGS, "Tags"), (RepositoryPath::HISTORY, "History")];
    if head.has_settings() {
        tabs.push((RepositoryPath::SETTINGS, "Settings"));
    }
    let title = match tabs.iter().find(|(p, _)| *p == current) {
        Some((p, label)) if *p != RepositoryPath::TAGS => format!("{label} · {}", head.name),
        _ => head.name.clone(),
    };
    let tabs = tabs.into_iter().map(|(p, label)| (p.of(&head.name), label, p == current)).collect();
    let namespace = head.namespace.clone().map(|ns| {
        view! { <span>"in namespace " <a class=LINK href=format!("/namespaces/{ns}")>{ns.clone()}</a>" · "</span> }
    });
    view! {
        <Title text=title/>
        <PageHeader title=head.name.clone() subtitle=head.description.clone()/>
        <p class="-mt-4 mb-4 text-sm text-slate-600">{namespace} {count_of(head.tag_count, "tag")}</p>
        <Tabs label="Repository" tabs/>
    }
}

/// A list of repositories.
#[component]
pub fn RepositoryTable(
    repositories: Vec<RepositoryView>,
    #[prop(into)] empty_title: String,
    children: Children,
) -> impl IntoView {
    if repositories.is_empty() {
        return view! { <EmptyState title=empty_title>{children()}</EmptyState> }.into_any();
    }
    view! {
        <Table head=vec!["Repository", "Tags", "Last push", "Size"]>
            {repositories.into_iter().map(|r| view! {
                <tr class="hover:bg-slate-50">
                    <td class=TD>
                        <a class=LINK href=format!("/repositories/{}", r.name)>{r.name.clone()}</a>
                        <p class="max-w-xs truncate text-xs text-slate-500">{r.description.clone()}</p>
                    </td>
                    <td class=TD>{r.tag_count}</td>
                    <td class=TD>
                        {r.last_push_at.map(|t| view! {
                            <span>{time_view(t)} {r.last_pushed_by.clone().map(|by| view! { <span class="text-slate-500">" by " {by}</span> })}</span>
                        })}
                    </td>
                    <td class=TD>{r.size.map(human_size)}</td>
                </tr>
            }).collect_view()}
        </Table>
    }
    .into_any()
}

/// Labels as small chips, linking to the repository filtered by each.
pub(super) fn label_chips(repo: &str, labels: &[(String, String)], max: usize) -> impl IntoView {
    let more = labels.len().saturating_sub(max);
    view! {
        <span class="flex flex-wrap gap-1">
            {labels.iter().take(max).map(|(k, v)| {
                let href = format!("/repositories/{repo}?label={}", urlencode(&format!("{k}={v}")));
                let short_key = k.rsplit('.').next().unwrap_or(k).to_string();
                view! {
                    <a href=href title=format!("{k}={v}") class="max-w-[14rem] truncate rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-700 hover:bg-indigo-50 hover:text-indigo-700">
                        {format!("{short_key}={v}")}
                    </a>
                }
            }).collect_view()}
            {(more > 0).then(|| view! { <span class="text-xs text-slate-500">{format!("+{more}")}</span> })}
        </span>
    }
}

/// What deleting a tag does, said before it is done: the registry deletes by digest, so
/// every tag of the same image goes, and multi-platform images that include it break.
pub(super) fn delete_question(what: &str, t: &TagView) -> String {
    let mut q = format!("Delete {what}? Its image ({}) is deleted from the registry.", short_digest(&t.digest));
    if t.shared_total > 0 {
        let more = t.shared_total - t.shared_with.len() as i64;
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        q += &format!(" The registry deletes by digest, so these tags go too: {}{more}.", t.shared_with.join(", "));
    }
    if !t.in_indexes.is_empty() {
        q += &format!(" It is a platform of {}, which will no longer pull completely.", t.in_indexes.join(", "));
    }
    q
}

/// The hidden fields of a tag's delete form: which tag, where to return, and the image the
/// person saw (refused if the tag has moved since).
pub(super) fn delete_fields(t: &TagView, repo: &str) -> impl IntoView {
    view! {
        <input type="hidden" name="id" value=t.id/>
        <input type="hidden" name="repository" value=repo.to_string()/>
        <input type="hidden" name="digest" value=t.digest.clone()/>
    }
}
