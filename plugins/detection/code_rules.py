"""The built-in rules of code_sanitation, by language (RE2 syntax, case-insensitive where the
language is): each matches a dangerous construct (a call, a statement), not a word."""

from __future__ import annotations

from plugins.detection.engine import Rule

PATTERNS: dict[str, dict[str, str]] = {
    "javascript": {
        "eval": r"\beval\s*\(",
        "function_constructor": r"\bnew\s+Function\s*\(|\bFunction\s*\(\s*['\"`]",
        "timer_string": r"\b(?:setTimeout|setInterval)\s*\(\s*['\"`]",
        "document_sink": (
            r"\bdocument\.(?:write(?:ln)?\s*\(|cookie\b)|\.innerHTML\s*=|\.outerHTML\s*="
        ),
        "node_process": (
            r"\brequire\s*\(\s*['\"`](?:child_process|fs|net|vm)['\"`]\s*\)|"
            r"\bprocess\.(?:mainModule|binding|kill|exit)\b|\bchild_process\b"
        ),
        "script_tag": r"(?i)<\s*script\b",
    },
    "python": {
        "exec_eval": r"\b(?:exec|eval|execfile)\s*\(|\bcompile\(",
        "dunder_import": r"\b__import__\s*\(|\.__(?:class|mro|subclasses|globals|builtins)__\b",
        "os_call": r"\bos\.(?:system|popen|exec\w*|spawn\w*|remove|unlink|rmdir|kill)\s*\(",
        "subprocess": r"\bsubprocess\.\w+\s*\(|\bpty\.spawn\s*\(",
        "dangerous_import": (
            r"(?m)(?:^|;)\s*(?:import\s+(?:os|subprocess|pty|ctypes|socket|shutil)\b|"
            r"from\s+(?:os|subprocess|pty|ctypes)\s+import\b)"
        ),
        "deserialisation": r"\b(?:pickle|cPickle|marshal)\.loads?\s*\(|\byaml\.load\s*\(",
    },
    "php": {
        "open_tag": r"(?i)<\?(?:php|=)",
        "exec_function": (
            r"(?i)\b(?:system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec|assert|"
            r"create_function|call_user_func(?:_array)?)\s*\("
        ),
        "superglobal": r"\$_(?:GET|POST|REQUEST|COOKIE|SERVER|FILES|ENV)\s*\[",
        "inclusion": (
            r"(?i)\b(?:include|require)(?:_once)?\s*\(\s*['\"$]|\b(?:include|require)_once\s+['\"$]|"
            r"\b(?:include|require)\s+['\"][^'\"]*\.(?:php|inc|phtml)['\"]"
        ),
        "decode_eval": r"(?i)\b(?:base64_decode|gzinflate|str_rot13|phpinfo)\s*\(",
    },
    "sql": {
        "select": (
            r"(?i)\bselect\s+(?:\*|(?:distinct\s+)?[\w.`\"\[\]]+\s*,\s*[\w.`\"\[\],\s]+?|"
            r"count\s*\(\s*\*\s*\)|[\w.`\"\[\]]+\s+from\s+[\w.`\"\[\]]+\s+where)\s+(?:from\b|[=<>]|like\b)|"
            r"(?i)\bselect\s+\*\s+from\b"
        ),
        "union_select": r"(?i)\bunion(?:\s|/\*.*?\*/)+(?:all\s+)?select\b",
        "comment_obfuscation": (
            r"(?i)\b(?:select|union|insert|update|delete|drop)\s*/\*[^\n]*?\*/\s*[\w*@(]"
        ),
        "modify": (
            r"(?i)\b(?:insert\s+into\s+[\w.`\"\[\]]+\s*(?:\(|values\b)|"
            r"update\s+[\w.`\"\[\]]+\s+set\s+[\w.`\"\[\]]+\s*=|"
            r"delete\s+from\s+[\w.`\"\[\]]+\s*(?:;|where\b|$))"
        ),
        "ddl": (
            r"(?i)\b(?:drop\s+(?:table|database|schema|view|index)\s+(?:if\s+exists\s+)?"
            r"[\w.`\"\[\]]+\s*(?:;|--|,|$)|truncate\s+table\s+\w|"
            r"alter\s+table\s+[\w.`\"\[\]]+\s+(?:add|drop|modify|alter|rename)\b|"
            r"create\s+(?:table|database|procedure|function|trigger)\s+[\w.`\"\[\]]+\s*(?:\(|as\b))"
        ),
        "procedure": r"(?i)\bxp_cmdshell\b|\bexec(?:ute)?\s+(?:master\.\.)?(?:xp|sp)_\w+",
    },
    "shell": {
        "read_system_file": (
            r"(?i)\b(?:cat|less|more|head|tail|nl|tac|strings|xxd|base64)\s+(?:-\w+\s+)*"
            r"['\"]?/(?:etc|proc|root|var/log|dev)/"
        ),
        "remove_recursive": (
            r"(?i)\brm\s+(?:-{1,2}[\w-]+\s+)*(?:-[a-z]*r[a-z]*|--recursive)\b|\bmkfs\b|\bdd\s+if="
        ),
        "permissions": (
            r"(?i)\bch(?:mod|own)\s+(?:-R\s+)?(?:[0-7]{3,4}|[ugoa]*\+[xs]|\w+:\w+)\s+[/~.]"
        ),
        "download_exec": (
            r"(?i)\b(?:wget|curl)\s+[^|;\n]*(?:\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b|"
            r"-[oO]\s+/(?:tmp|dev/shm)/)"
        ),
        "shell_spawn": (
            r"(?i)\b(?:ba|z|da)?sh\s+-[ci]\b|/bin/(?:ba|z|da)?sh\b|/dev/(?:tcp|udp)/|"
            r"\b(?:nc|ncat|netcat)\s+(?:-\w+\s+)*-[ec]\s|:\(\)\s*\{\s*:\|:&\s*\};:"
        ),
        "chained_command": (
            r"(?i)(?:;|&&|\|\||\$\(|`)\s*(?:whoami|id|uname|ifconfig|wget|curl|nc|bash|sh|rm|"
            r"cat|chmod|python[23]?|perl)\b(?:\s+[-/~$'\"]|\s*(?:$|[;&|`)]))"
        ),
    },
    "java": {
        "runtime_exec": r"\bRuntime\s*\.\s*getRuntime\s*\(\s*\)\s*\.\s*exec\s*\(",
        "process_builder": r"\bnew\s+ProcessBuilder\s*\(|\bProcessBuilder\s*\(",
        "reflection": (
            r"\bClass\.forName\s*\(|\.getDeclaredMethod\s*\(|\.setAccessible\s*\(\s*true|"
            r"\bjava\.lang\.(?:Runtime|ProcessBuilder|reflect)\b"
        ),
        "deserialisation": r"\bnew\s+ObjectInputStream\s*\(|\.readObject\s*\(\s*\)|\bXMLDecoder\b",
        "script_engine": r"\bScriptEngineManager\b|\bSystem\.exit\s*\(",
    },
    "csharp": {
        "process_start": (
            r"\bProcess\.Start\s*\(|\bSystem\.Diagnostics\.Process\b|\bProcessStartInfo\b"
        ),
        "assembly_load": r"\bAssembly\.(?:Load|LoadFrom|LoadFile|UnsafeLoadFrom)\s*\(",
        "activator": r"\bActivator\.CreateInstance\s*\(|\bType\.GetType\s*\(",
        "deserialisation": r"\bBinaryFormatter\b|\bLosFormatter\b|\bNetDataContractSerializer\b",
        "file_io": r"\bFile\.(?:Delete|WriteAllText|WriteAllBytes|ReadAllText|Copy|Move)\s*\(",
        "sql_command": r"\bnew\s+SqlCommand\s*\(",
    },
    "ruby": {
        "kernel_exec": (
            r"\b(?:Kernel\.)?(?:system|exec|spawn|syscall)\s*\(\s*['\"]|\bKernel\.(?:exec|system|"
            r"spawn|open|eval)\b|%x[\(\{\[]|\bIO\.popen\b|\bOpen3\.\w+|"
            r"(?m)(?:^|;)\s*(?:system|exec|spawn)\s+['\"]|(?:[=(,]|\b(?:puts|print|return))\s*`[^`\n]+`"
        ),
        "eval": r"\b(?:eval|instance_eval|class_eval|module_eval)\s*[\(\s]\s*['\"]",
        "send": r"\.(?:send|public_send|__send__)\s*\(\s*[:'\"]",
        "deserialisation": r"\bMarshal\.load\b|\bYAML\.(?:unsafe_)?load\s*\(",
        "file_io": r"\bFile\.(?:delete|write|read|open)\s*\(|\bopen\s*\(\s*['\"]\|",
    },
    "html": {
        "script_tag": r"(?i)<\s*/?\s*script\b",
        "embedding_tag": r"(?i)<\s*(?:iframe|frame|object|embed|applet|base)\b",
        "event_handler": r"(?i)<\s*[a-z][\w:-]*\b[^>]*[\s/'\"]on[a-z]{3,}\s*=",
        "script_uri": r"(?i)\b(?:javascript|vbscript):\s*[\w$/(\[{'\"]|\bdata:\s*text/html\b",
        "style_expression": r"(?i)\bexpression\s*\(|-moz-binding\s*:",
        "meta_refresh": r"(?i)<\s*meta\b[^>]*http-equiv\s*=\s*['\"]?refresh",
    },
}
LANGUAGES: tuple[str, ...] = tuple(PATTERNS)
RULES: tuple[Rule, ...] = tuple(
    Rule(language, f"{language}.{name}", pattern)
    for language, patterns in PATTERNS.items()
    for name, pattern in patterns.items()
)
