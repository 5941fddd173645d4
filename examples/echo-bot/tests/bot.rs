//! The bot against an in-process chat: a user's `!ping` gets exactly one `pong`, other
//! messages none, and the bot's own `pong` does not set it off.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_client::{Auth, Client};
use chat_core::{ChatService, Config, LocalBroker};
use chat_http::{ChatHttp, HttpConfig};
use chat_store_memory::MemoryStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn answers_ping_with_pong_once() {
    let service = ChatService::new(
        Arc::new(MemoryStore::new()),
        Arc::new(LocalBroker::default()),
        Config::for_tests(),
    );
    let chat = ChatHttp::new(service, HttpConfig::default());
    let (ann, ann_token) = chat.service().signup("ann", "password-123").await.unwrap();
    let (_, bot_token) = chat.service().signup("bot", "password-123").await.unwrap();
    chat.service()
        .create_room(&ann, "general", "")
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let app = chat_http::axum::router(chat.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (bot, bot_events) = Client::connect(&url, Auth::bearer(bot_token.as_str()))
        .await
        .unwrap();
    let running = tokio::spawn(async move { echo_bot::run(bot, bot_events, "general").await });
    let (user, mut events) = Client::connect(&url, Auth::bearer(ann_token.as_str()))
        .await
        .unwrap();
    user.join("general").await.unwrap();
    // The bot has joined once its presence shows; then ping.
    let bot_online = async {
        while user.join("general").await.unwrap().online.len() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    timeout(WAIT, bot_online)
        .await
        .expect("the bot never joined");
    user.send("general", "hello").await.unwrap();
    user.send("general", "!ping").await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let m = timeout(WAIT, events.next_message()).await.unwrap().unwrap();
        seen.push((m.author.into_owned(), m.body.into_owned()));
    }
    let expected = [("ann", "hello"), ("ann", "!ping"), ("bot", echo_bot::PONG)];
    let seen: Vec<(&str, &str)> = seen.iter().map(|(a, b)| (&**a, &**b)).collect();
    assert_eq!(seen, expected);
    // Nothing else: the bot does not answer its own pong.
    let more = timeout(Duration::from_millis(300), events.next_message()).await;
    assert!(more.is_err(), "{more:?}");
    user.close().await;
    running.abort();
}
