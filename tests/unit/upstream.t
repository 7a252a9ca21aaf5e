#!/bin/bash
exec "$(dirname "$0")/run.sh" test-upstream
