# scripts/engine-env.sh: source this (bash/zsh) to use the engine that
# scripts/engine.sh built:
#     scripts/engine.sh >/dev/null && . scripts/engine-env.sh
# Run it from the directory holding the Pulumi project's node_modules (or set
# ENGINE_PROJECT_DIR). It only sets environment variables; it builds nothing.

_engine_cache="${K3S_HOMELAB_CACHE:-$HOME/.cache/k3s-homelab}/engine"
_engine_project="${ENGINE_PROJECT_DIR:-$PWD}"

# Dynamic providers (pulumi.dynamic.Resource) need the pulumi-resource-pulumi-nodejs
# plugin. engine.sh puts a shim for it into bin/; the copy at the root of the
# @pulumi/pulumi npm package is added to PATH as well when it is executable.
_engine_path="$_engine_cache/bin"
if [ -x "$_engine_project/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs" ]; then
  _engine_path="$_engine_path:$_engine_project/node_modules/@pulumi/pulumi"
fi
case ":$PATH:" in
  *":$_engine_path:"*) ;;
  *) export PATH="$_engine_path:$PATH" ;;
esac

# Plugins live in the cache, not in ~/.pulumi; never download anything.
export PULUMI_HOME="$_engine_cache/pulumi-home"
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_SKIP_UPDATE_CHECK=true

unset _engine_cache _engine_project _engine_path
