#!/bin/sh
set -e
echo "building $(git rev-parse HEAD 2>/dev/null || echo nogit)"
mkdir -p dist
cp server.py dist/
echo "site $(cat version.txt) $(git rev-parse HEAD)" > dist/index.html
echo "VERSION=$(cat version.txt)" > build.properties
echo "COMMIT=$(git rev-parse HEAD)" >> build.properties
