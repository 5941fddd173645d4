//! `conformance_tests!`: expands to one `#[test]` per conformance case, so each case shows up
//! (and fails) on its own in `cargo test`.

/// Generates the whole conformance suite for a store factory. See [`testing`](crate::testing).
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::__conformance_cases!($factory;
            accounts::signup_creates_user_and_session,
            accounts::usernames_are_unique_case_insensitively,
            accounts::login_failures_do_not_reveal_usernames,
            accounts::logout_revokes_the_session,
            accounts::sessions_expire,
            accounts::deactivation_kills_sessions_and_blocks_login,
            accounts::invalid_account_input_is_rejected,
            accounts::users_are_found_by_id_and_name,
            accounts::users_are_listed_paged_and_searched,
            accounts::session_store_primitives,
            accounts::password_change_ends_other_sessions,
            accounts::session_ends_reach_live_sessions,
            external::first_sight_creates_the_user_and_finds_it_again,
            external::a_new_name_renames_the_user,
            external::taken_names_get_numbered_usernames,
            external::concurrent_first_sights_create_one_user,
            external::the_hosts_admin_flag_is_followed,
            external::deactivated_external_users_are_forbidden,
            external::bad_external_ids_are_unauthenticated,
            external::external_users_have_no_password,
            external::external_ids_and_renames_conflict_at_the_store,
            external::a_rename_shows_in_past_messages,
            rooms::rooms_are_created_and_found_case_insensitively,
            rooms::duplicate_room_names_conflict,
            rooms::duplicate_name_race_creates_one_room,
            rooms::rooms_are_listed_paged_and_searched,
            rooms::members_join_and_leave,
            rooms::unknown_rooms_are_not_found,
            rooms::descriptions_are_edited_and_rooms_deleted,
            rooms::invalid_room_input_is_rejected,
            messages::posts_get_consecutive_seqs,
            messages::concurrent_posts_get_seqs_one_to_hundred,
            messages::rooms_have_independent_seqs,
            messages::posts_with_client_id_are_idempotent,
            messages::concurrent_duplicate_posts_store_one_message,
            messages::authors_edit_their_own_messages,
            messages::deletes_are_soft_and_keep_seq,
            messages::posting_requires_membership,
            messages::batched_posts_keep_order_and_fail_alone,
            messages::invalid_message_input_is_rejected,
            history::empty_room_has_empty_pages,
            history::latest_before_and_after_pages,
            history::pages_at_the_ends_of_the_seq_range,
            history::page_limits_are_clamped,
            history::pages_are_cut_at_the_byte_limit,
            history::deleted_messages_stay_in_history,
            search::search_matches_word_prefixes,
            search::search_follows_edits_and_deletes,
            search::search_is_paged_and_scoped_to_the_room,
            admin::admin_operations_require_admin,
            admin::admins_manage_users_rooms_and_messages,
            live::subscribers_receive_posts_in_order,
            live::resume_after_seq_has_no_gap_and_no_duplicate,
            live::lagging_subscribers_recover_from_the_store,
            live::lag_recovery_reads_only_what_the_broker_dropped,
            live::presence_and_typing_reach_the_room,
            live::room_deletion_ends_feeds,
            live::out_of_order_publishes_are_delivered_in_seq_order,
            live::runs_of_posts_reach_feeds_in_seq_order,
        );

        #[test]
        fn model_based_property_test() {
            $crate::testing::run_model($factory);
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($factory:expr; $($group:ident :: $case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::testing::run(
                    stringify!($case),
                    $factory,
                    $crate::testing::$group::$case,
                );
            }
        )*
    };
}
