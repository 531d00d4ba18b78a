# The two commands a newcomer needs. Both install what is missing first.
#   make run    serve Portcullis on http://127.0.0.1:3000 (RELEASE=1 for an optimised build)
#   make test   run every test: unit, integration (PostgreSQL), browser (Chromium)
#   make image  the container image (static musl binary + site, FROM scratch; IMAGE=name:tag)

.PHONY: run test setup fmt clippy image

# Each installs only what it needs: `make run` none of the test tools.
run:
	@deploy/local/setup.sh run
	@deploy/local/run.sh

test:
	@deploy/local/setup.sh test
	@deploy/local/test.sh

image:
	@deploy/local/setup.sh image
	@deploy/image/build.sh

setup:
	@deploy/local/setup.sh test

fmt:
	cargo fmt --all

clippy:
	cargo clippy -p app -p server --all-targets -- -D warnings
