//! A repository's settings page, for those who may change something there: its description,
//! its own cleanup policy, and deleting it.

use leptos::prelude::*;

use super::super::cleanup::{Cleanup, CleanupCard};
use super::super::components::*;
use super::super::{signed_in_or_visitor, RepositoryPath};
use super::{repository_header, repository_name};
use crate::api::images::{get_repository_settings, DeleteRepository, UpdateRepository};
use crate::model::RepositoryHead;

#[component]
pub fn RepositorySettingsPage() -> impl IntoView {
    let name = repository_name();
    let update = ServerAction::<UpdateRepository>::new();
    let delete = ServerAction::<DeleteRepository>::new();
    let data = Resource::new(move || (name.get(), update.version().get()), |(n, _)| get_repository_settings(n));
    // Made before anything is awaited (see Cleanup); the repository names its namespace.
    let cleanup = Cleanup::new(move || (String::new(), Some(name.get())));
    signed_in_or_visitor(move |_| loaded(data, move |head| view! { <SettingsView head update delete cleanup/> }))
}

#[component]
fn SettingsView(
    head: RepositoryHead,
    update: ServerAction<UpdateRepository>,
    delete: ServerAction<DeleteRepository>,
    cleanup: Cleanup,
) -> impl IntoView {
    let name = head.name.clone();
    let update_error = action_error(update);
    let delete_error = action_error(delete);
    let (n1, n2) = (name.clone(), name.clone());
    view! {
        {repository_header(&head, RepositoryPath::SETTINGS)}
        <div class="max-w-3xl space-y-6">
            {head.abilities.edit.then(|| view! {
                <Card title="Description">
                    <ActionForm action=update attr:class="space-y-4">
                        <FormError error=update_error/>
                        <input type="hidden" name="name" value=n1.clone()/>
                        <Field label="Description" name="description" value=head.description.clone() error=update_error/>
                        <Submit label="Save description" busy_label="Saving…" pending=update.pending()/>
                    </ActionForm>
                </Card>
            })}
            {head.namespace.clone().filter(|_| head.abilities.cleanup).map(|ns| view! {
                <CleanupCard state=cleanup namespace=ns repository=name.clone()/>
            })}
            {head.abilities.delete.then(|| view! {
                <Card title="Delete repository">
                    <p class="mb-4 text-sm text-slate-600">
                        "Deletes every tag of this repository from the registry; the registry's garbage collection then frees their space."
                    </p>
                    <FormError error=delete_error/>
                    <ConfirmAction action=delete label="Delete repository…" start=true
                        question=format!("Delete {} and all its {} from the registry? This cannot be undone.", n2, count_of(head.tag_count, "tag"))
                        yes="Yes, delete everything">
                        <input type="hidden" name="name" value=n2.clone()/>
                    </ConfirmAction>
                </Card>
            })}
        </div>
    }
}
