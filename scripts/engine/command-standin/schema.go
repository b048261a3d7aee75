package main

// schemaJSON is a minimal package schema: command:remote:Command and the
// types it uses, with the same property names, types, defaults, secrets and
// replaceOnChanges as the real 1.2.1 schema, but without docs and without the
// other resources (local:Command, remote:CopyToRemote, ...), which the stand-in
// does not implement.
const schemaJSON = `{
  "name": "command",
  "version": "1.2.1",
  "description": "k3s-homelab stand-in for the Pulumi Command provider (command:remote:Command only).",
  "config": {},
  "provider": {"description": "The provider type for the command package."},
  "types": {
    "command:remote:Logging": {
      "type": "string",
      "enum": [
        {"name": "stdout", "value": "stdout"},
        {"name": "stderr", "value": "stderr"},
        {"name": "stdoutAndStderr", "value": "stdoutAndStderr"},
        {"name": "none", "value": "none"}
      ]
    },
    "command:remote:Connection": {
      "type": "object",
      "properties": {
        "agentSocketPath": {"type": "string"},
        "dialErrorLimit": {"type": "integer", "default": 10},
        "host": {"type": "string"},
        "hostKey": {"type": "string"},
        "password": {"type": "string", "secret": true},
        "perDialTimeout": {"type": "integer", "default": 15},
        "port": {"type": "number", "default": 22},
        "privateKey": {"type": "string", "secret": true},
        "privateKeyPassword": {"type": "string", "secret": true},
        "proxy": {"$ref": "#/types/command:remote:ProxyConnection"},
        "user": {"type": "string", "default": "root"}
      },
      "required": ["host"]
    },
    "command:remote:ProxyConnection": {
      "type": "object",
      "properties": {
        "agentSocketPath": {"type": "string"},
        "dialErrorLimit": {"type": "integer", "default": 10},
        "host": {"type": "string"},
        "hostKey": {"type": "string"},
        "password": {"type": "string", "secret": true},
        "perDialTimeout": {"type": "integer", "default": 15},
        "port": {"type": "number", "default": 22},
        "privateKey": {"type": "string", "secret": true},
        "privateKeyPassword": {"type": "string", "secret": true},
        "user": {"type": "string", "default": "root"}
      },
      "required": ["host"]
    }
  },
  "resources": {
    "command:remote:Command": {
      "description": "A command to run on a remote host over SSH (k3s-homelab stand-in).",
      "inputProperties": {
        "addPreviousOutputInEnv": {"type": "boolean", "default": true},
        "connection": {"$ref": "#/types/command:remote:Connection", "secret": true},
        "create": {"type": "string"},
        "delete": {"type": "string"},
        "environment": {"type": "object", "additionalProperties": {"type": "string"}},
        "logging": {"$ref": "#/types/command:remote:Logging"},
        "stdin": {"type": "string"},
        "triggers": {"type": "array", "items": {"$ref": "pulumi.json#/Any"}, "replaceOnChanges": true},
        "update": {"type": "string"}
      },
      "requiredInputs": ["connection"],
      "properties": {
        "addPreviousOutputInEnv": {"type": "boolean"},
        "connection": {"$ref": "#/types/command:remote:Connection", "secret": true},
        "create": {"type": "string"},
        "delete": {"type": "string"},
        "environment": {"type": "object", "additionalProperties": {"type": "string"}},
        "logging": {"$ref": "#/types/command:remote:Logging"},
        "stderr": {"type": "string"},
        "stdin": {"type": "string"},
        "stdout": {"type": "string"},
        "triggers": {"type": "array", "items": {"$ref": "pulumi.json#/Any"}, "replaceOnChanges": true},
        "update": {"type": "string"}
      },
      "required": ["connection", "stderr", "stdout"]
    }
  }
}`
