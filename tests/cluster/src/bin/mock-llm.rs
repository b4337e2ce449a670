//! The mock OpenAI-compatible endpoint as a program, for benchmarks: `mock-llm PORT` answers
//! every chat completion at once with a fixed explanation until killed.

use optischema_cluster_tests::mock_llm::{explanation_answer, MockLlm};

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("usage: mock-llm PORT");
    let mock = MockLlm::start_on(
        port,
        vec![explanation_answer("A fixed answer for benchmarks.")],
    );
    println!("mock LLM endpoint on {}", mock.base_url());
    loop {
        std::thread::park();
    }
}
