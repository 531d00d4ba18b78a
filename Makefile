# The two commands a newcomer needs. Both install what is missing first.
#   make run    serve Portcullis on http://127.0.0.1:3000 (RELEASE=1 for an optimised build)
#   make test   run every test: unit, integration (PostgreSQL), browser (Chromium)
#   make image  the container image (static musl binary + site, FROM scratch; IMAGE=name:tag)

.PHONY: run test setup fmt clippy image

run: setup
	@deploy/local/run.sh

test: setup
	@deploy/local/test.sh

image: setup
	@deploy/image/build.sh

setup:
	@deploy/local/setup.sh

fmt:
	cargo fmt --all

clippy:
	cargo clippy -p app -p server --all-targets -- -D warnings
