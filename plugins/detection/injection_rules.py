"""The built-in rules of injection_protection, by injection type (RE2 syntax, case-insensitive).

Each rule needs the structure of an attack, not a keyword: prose that mentions `select`, `drop`,
`union`, `script`, `exec` or `passwd` does not match (measured on tests/corpus)."""

from __future__ import annotations

from plugins.detection.engine import Rule

# SQL whitespace: blanks, inline comments (`UNION/**/SELECT`) or comments to the end of the line
# (`UNION--x` or `UNION#x`, a new line, `SELECT`).
_S = r"(?:\s|/\*.*?\*/|(?:--|#)[^\n]*\n)+"
_NAME = r"[\w.`\"\[\]]+"
_SHELL_COMMANDS = (
    r"cat|ls|rm|cp|mv|chmod|chown|wget|curl|nc|ncat|netcat|bash|sh|zsh|dash|python[23]?|perl|"
    r"ruby|php|node|powershell|pwsh|cmd(?:\.exe)?|ping|nslookup|dig|echo|sleep|kill|base64|"
    r"touch|mkfifo|telnet|ssh|scp|tftp|awk|sed|find|grep|more|less|head|tail|nohup|xargs|"
    r"exec|eval|printf|sudo|su|crontab|env|export|set|uname|id|whoami"
)
_SHELL_WORDS = r"whoami|uname|ifconfig|ipconfig|hostname|id|pwd|reboot|shutdown|ls|dir|env|ps"

PATTERNS: dict[str, dict[str, str]] = {
    "sql": {
        "union_select": (
            rf"(?i)\bunion{_S}(?:all{_S}|distinct{_S})?\(?\s*select\b|\bunion\(\s*select\b"
        ),
        "quoted_tautology": (
            r"(?i)['\"`]\s*\)?\s*(?:or|and|\|\||&&|xor)\s*\(?\s*(?:['\"`][^'\"`]*['\"`]\s*"
            r"(?:=|<>|!=|<|>|like\b)|\d+\s*(?:=|<>|!=|<|>|like\b)\s*\d|"
            r"\w+\s*(?:=|<>|!=|like\b)\s*\w+\s*(?:--|#|/\*|$)|(?:true|false)\s*(?:--|#|/\*|$))"
        ),
        "numeric_tautology": (
            r"(?i)\b(?:or|and)\s+\(?(\d+)\s*(?:=|<>|!=|>|<|like)\s*\(?\d+\s*\)?\s*(?:--|#|/\*|;|$)"
        ),
        "comment_terminator": r"(?i)\w['\"`]\s*\)?\s*(?:--[\s+-]*$|/\*|;\s*--|#\s*$)",
        "stacked_query": (
            r"(?i)['\"`)]\s*;\s*(?:drop|delete|insert|update|truncate|alter|create|exec|execute|"
            r"shutdown|declare|select|grant|revoke|merge|replace|call|waitfor|set)\b"
        ),
        "ddl": (
            rf"(?i)\b(?:drop{_S}(?:table|database|schema|view|index|user|function|procedure)"
            rf"(?:{_S}if{_S}exists)?{_S}{_NAME}\s*(?:;|--|#|/\*|,|$)|truncate{_S}table{_S}\w|"
            rf"alter{_S}table{_S}{_NAME}{_S}(?:add|drop|modify|alter|rename|change)\b|"
            rf"create{_S}(?:table|database|schema|user|function|procedure|trigger)"
            rf"(?:{_S}if{_S}not{_S}exists)?{_S}{_NAME}\s*(?:\(|;|$|as\b))"
        ),
        "dml": (
            rf"(?i)\b(?:delete{_S}from{_S}{_NAME}\s*(?:;|--|#|$|where\b)|"
            rf"insert{_S}into{_S}{_NAME}\s*(?:\(|values\b|select\b)|"
            rf"update{_S}{_NAME}{_S}set{_S}{_NAME}\s*=|"
            rf"select{_S}(?:\*|(?:distinct{_S})?{_NAME}\s*,\s*[\w.`\"\[\],\s]+?|count\s*\(\s*\*\s*\)|"
            rf"@@\w+|{_NAME}{_S}from{_S}{_NAME}{_S}where)\s*(?:{_S})?(?:from\b|=|<|>|like\b|in\b|$))"
        ),
        "order_by_probe": r"(?i)['\"`)]\s*(?:(?:order|group)\s+by|having)\s+\d+\b",
        "quoted_boolean_function": (
            r"(?i)['\"`)]\s*(?:and|or|&&|\|\|)\s+\(?\s*(?:ascii|substring|substr|mid|length|"
            r"char|ord|if|case|exists|select|sleep|benchmark|updatexml|extractvalue|count)\s*\("
        ),
        "time_based": (
            r"(?i)\b(?:sleep|pg_sleep|benchmark)\s*\(\s*\d+(?:\.\d+)?\s*(?:\)|,)|"
            r"\bwaitfor\s+delay\s+['\"]|\bdbms_pipe\.receive_message\s*\("
        ),
        "system_objects": (
            r"(?i)@@(?:version|servername|datadir|hostname|basedir)\b|\binformation_schema\.\w|"
            r"\b(?:sysobjects|syscolumns|sys\.tables|pg_catalog\.\w|mysql\.user|sqlite_master)\b|"
            r"\bxp_cmdshell\b|\bexec(?:ute)?\s+(?:master\.\.)?(?:xp|sp)_\w+|"
            r"\b(?:load_file|into\s+(?:out|dump)file)\b|\bchar\s*\(\s*\d+\s*(?:,\s*\d+\s*){2,}\)"
        ),
    },
    "nosql": {
        "operator": (
            r"(?i)(?:^|[\"'{,\s\[])\$(?:where|ne|eq|gt|gte|lt|lte|in|nin|regex|exists|elemmatch|"
            r"function|expr|or|and|not|nor|type|size|all|mod|text|accumulator|jsonschema|"
            r"lookup|merge|out)(?:$|[\"'\]\s:=])"
        ),
        "javascript": (
            r"(?i)\bthis\.\w+\s*(?:==|!=|>|<)|\bdb\.\w+\.(?:find|drop|remove|insert|update|"
            r"aggregate)\w*\s*\(|;\s*return\s+(?:true|1)\b|\bsleep\s*\(\s*\d{3,}\s*\)|"
            r"['\"]\s*;\s*(?:while\s*\(|for\s*\(|return\s|var\s|let\s|sleep\s*\()"
        ),
    },
    "command": {
        "chained_command": (
            rf"(?i)(?:[;&|`\n]|\$\()\s*(?:sudo\s+)?(?:{_SHELL_COMMANDS})"
            r"(?:\s+-{1,2}[\w-]+|\s+\+[rwxst]+\s|\s+['\"]?[/~$\\]|"
            r"\s+\S+\.(?:sh|php|py|pl|exe|bat|ps1)\b)|"
            r"(?:[;&|`]|\$\()\s*(?:sleep|timeout|ping\s+-[cnw])\s+\d+"
        ),
        "chained_word": (
            rf"(?i)(?:[;`]|&&|\|\||\$\()\s*(?:{_SHELL_WORDS})\s*(?:$|[;&|`)]|\s+-\w)|"
            r"\n\s*(?:whoami|uname|ifconfig|ipconfig)\s*(?:$|[;&|`)]|\s+-\w)"
        ),
        "network_probe": (
            r"(?i)(?:[;&|`\n]|\$\()\s*(?:nslookup|dig|host|ping|curl|wget|nc|telnet|ssh|ftp)\s+"
            r"[\w.-]+\.[a-z]{2,}\b"
        ),
        "subshell": rf"(?i)\$\(\s*(?:{_SHELL_COMMANDS})\b|`\s*(?:{_SHELL_WORDS})\s*`",
        "exec_function": (
            r"(?i)\b(?:system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec|spawn|"
            r"os\.system|os\.popen|subprocess\.\w+|child_process\.\w+|execsync|"
            r"runtime\.getruntime\(\)\.exec)\s*\(\s*['\"`$\[]"
        ),
        "reverse_shell": (
            r"(?i)\b(?:nc|ncat|netcat)\s+(?:-\w+\s+)*-[ec]\s|/dev/(?:tcp|udp)/|"
            r"\b(?:ba|z|da)?sh\s+-i\b|\bmkfifo\s+/|/bin/(?:ba|z|da|k|c|tc)?sh\b"
        ),
        "interpreter": (
            r"(?i)\b(?:python[23]?|perl|ruby|php|node)\s+-[ecr]\s+['\"]|"
            r"\b(?:powershell|pwsh)(?:\.exe)?\s+(?:-\w+\s+)*-(?:c|command|enc|encodedcommand|e)\b|"
            r"\binvoke-expression\b|\biex\s*\(|\bcmd(?:\.exe)?\s+/[ck]\s|"
            r"\b(?:curl|wget)\s+[^|;\n]*\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b|"
            r"\b(?:curl|wget)\s+[^|;\n]*\s-[oO]\s*/(?:tmp|dev/shm|var/tmp)/"
        ),
    },
    "path": {
        "traversal": (
            r"(?i)(?:\.{2,4}[/\\]{1,2}){2,}|\.\.[/\\]+(?:etc|proc|windows|winnt|boot|root|home|var|usr|"
            r"\.ssh|\.aws|\.git|\.env)\b|\.\.(?:\x{fffd}|;/|%c0%af|%e0%80%af)"
        ),
        "sensitive_file": (
            r"(?i)(?:^|[\s=:'\"(,/\\])(?:etc/(?:passwd|shadow|group|sudoers|master\.passwd)|"
            r"proc/self/(?:environ|cmdline|fd|maps)|\.ssh/(?:id_rsa|id_dsa|id_ecdsa|id_ed25519|"
            r"authorized_keys|known_hosts)|windows[/\\](?:win\.ini|system32)|boot\.ini|"
            r"\.aws/credentials|\.git/(?:config|head)|\.htpasswd|wp-config\.php)\b"
        ),
        "system_binary": (
            r"(?i)(?:^|[=\s'\"])/(?:bin|sbin|usr/bin|usr/sbin)/(?:ba|z|da|k|c|tc)?sh\b"
        ),
    },
    "ldap": {
        "filter_break": r"\)\s*\(\s*[|&!]|\(\s*[|&!]\s*\(\s*[\w-]+\s*[~<>]?=",
        "attribute_wildcard": (
            r"(?i)\b(?:cn|uid|sn|ou|dc|mail|objectclass|userpassword|samaccountname|"
            r"givenname|memberof|member)\s*=\s*\*|\(\s*[\w-]+\s*=\s*\*\s*\)"
        ),
    },
    "xml": {
        "dtd": (
            r"(?i)<!\s*(?:entity|element|attlist|notation)\b|"
            r"<!\s*doctype\s+[\w:-]+\s+(?:system|public)\b|<!\s*doctype\s+[\w:-]+\s*\["
        ),
        "cdata": r"(?i)<!\[cdata\[",
        "xinclude": r"(?i)<\s*[\w-]*:?include\b[^>]*\bhref\s*=|xmlns:xi\s*=",
        "external_entity": r"(?i)&\w+;.*<!|\b(?:system|public)\s+[\"'](?:file|https?|ftp|php|expect|jar|gopher)://",
    },
    "ssrf": {
        "scheme": r"(?i)\b(?:file|gopher|dict|tftp|jar|netdoc|expect|phar|ldap|php):(?://|/)",
        "loopback": (
            r"(?i)\b(?:https?|ftp|wss?)://(?:[^/@\s]*@)?(?:localhost(?:\.localdomain)?|"
            r"127(?:\.\d{1,3}){1,3}|0\.0\.0\.0|0+|\[?::1?\]?|\[::ffff:[\d.:a-f]+\]|localtest\.me|"
            r"\[(?:0{0,4}:){2,7}(?:ffff:)?(?:127(?:\.\d{1,3}){3}|0{0,3}1)\]|"
            r"[\w.-]*\.(?:nip|sslip|xip)\.io|0x[0-9a-f]{1,8}(?:\.[0-9a-fx]+)*|\d{8,10}|0\d{1,4}\.[\d.]+)"
            r"(?:[:/?#\s\\]|$)"
        ),
        "metadata": (
            r"(?i)169\.254\.169\.254|metadata\.google\.internal|metadata\.azure\.com|"
            r"100\.100\.100\.200|\[?fd00:ec2::254\]?|instance-data(?:\.ec2\.internal)?\b|"
            r"/latest/meta-data\b|/computemetadata/v1\b"
        ),
        "private_address": (
            r"(?i)\b(?:https?|ftp|wss?)://(?:[^/@\s]*@)?(?:10(?:\.\d{1,3}){3}|192\.168(?:\.\d{1,3}){2}|"
            r"172\.(?:1[6-9]|2\d|3[01])(?:\.\d{1,3}){2}|169\.254(?:\.\d{1,3}){2})(?:[:/?#\s]|$)"
        ),
    },
    "file": {
        "inclusion": (
            r"(?i)\b(?:include|include_once|require|require_once)\s*\(?\s*['\"]?\s*"
            r"(?:\.\.[/\\]|[a-z]+://|/etc/|/proc/|/var/|c:\\)"
        ),
        "wrapper": r"(?i)\b(?:php|phar|zip|data|expect|glob|zlib|compress\.zlib|file)://",
        "traversal_to_file": (
            r"(?i)(?:\.{2,4}[/\\]{1,2})+(?:etc|proc|windows|winnt|boot|root|var|\.ssh)\b"
        ),
        "sensitive_file": (
            r"(?i)(?:^|[\s=:'\"(,/])(?:/etc/(?:passwd|shadow|group|sudoers|hosts)|/proc/self/|"
            r"c:\\windows\\|~?/\.ssh/)"
        ),
        "null_byte": r"\x00|%00|\\0\b|\\x00",
    },
    "template": {
        "expression": (
            r"(?i)\{\{[^}]*?(?:\d\s*[*+/-]\s*['\"]?\d|\b(?:config|self|request|settings|lipsum|"
            r"cycler|joiner|namespace|url_for|get_flashed_messages|range)\b|__\w+__|"
            r"\|\s*(?:attr|safe)\b|\[\s*['\"]__)|\{%\s*(?:import|include|set|for|if)\b[^%]*%\}"
        ),
        "erb": r"(?i)<%=?\s*[^%]*?(?:\d\s*[*+]\s*\d|system|`|eval|exec|file\.|io\.)[^%]*%>",
        "arithmetic": r"(?i)[$#]?\{\s*\d+\s*\*\s*['\"]?\d+['\"]?\s*\}",
        "smarty": r"(?i)\{\s*php\s*\}|\{\s*\$smarty\b|\{\s*system\s*\(",
        "freemarker": r"(?i)<#assign\b|freemarker\.template\.utility\.|\?new\s*\(\s*\)",
        "expression_language": (
            r"(?i)\$\{[^}]*(?:getruntime|\bt\s*\(|jndi:|class\.|\.exec\s*\()|"
            r"#\{[^}]*(?:getruntime|\bt\s*\()|\$\{\s*jndi:"
        ),
        "prototype": (
            r"(?i)__proto__|\bconstructor\s*(?:\.|\[)\s*['\"]?(?:constructor|prototype)|"
            r"\bprototype\s*(?:\.|\[)\s*['\"]?(?:__proto__|constructor)|"
            r"^\s*constructor\s*$"
        ),
        "python_dunder": (
            r"(?i)\.__(?:class|mro|subclasses|globals|builtins|bases?)__\b|__import__\s*\("
        ),
    },
    "xpath": {
        "quoted_tautology": (
            r"(?i)['\"]\s*(?:or|and)\s+(?:['\"]?[^'\"\s]*['\"]?\s*=\s*['\"]|\d+\s*=\s*\d+)"
        ),
        "functions": (
            r"(?i)\b(?:contains|substring|concat|count|string-length|starts-with|normalize-space|"
            r"translate|local-name|name|position|last|text)\s*\(\s*(?:/|\.\.?/|@|['\"]\w|\))"
        ),
        "axis": r"//\*|/\*\[|\[\s*@[\w*]*\s*(?:=|\])|//[\w-]+\s*\[\s*@|//[\w-]+\[\d+\]",
    },
    "header": {
        "crlf": (
            r"(?i)[\r\n]\s*(?:location\s*:\s*(?:[a-z]+:)?//|set-cookie\s*:\s*[^=\s]+=|"
            r"content-(?:type\s*:\s*[\w.+-]+/[\w.+-]+|length\s*:\s*\d)|"
            r"http/\d(?:\.\d)?\s+\d{3}\b|x-(?:forwarded-(?:for|host|proto)|real-ip|original-url|"
            r"rewrite-url)\s*:|refresh\s*:\s*\d|transfer-encoding\s*:|access-control-allow-[\w-]+\s*:)"
        ),
        "response_splitting": r"(?i)(?:\r?\n){2}\s*<\s*(?:script|html|body|iframe|svg)\b",
        "encoded_crlf": r"(?i)%0d%0a|%0a%0d|\\r\\n(?:location|set-cookie|content-|http/)",
    },
    "xss": {
        "script_tag": r"(?i)<\s*/?\s*script\b",
        "event_handler": (
            r"(?i)\bon(?:error|load|mouseover|mouseout|mouseenter|mouseleave|mousedown|mouseup|"
            r"mousemove|click|dblclick|focus|focusin|blur|submit|change|keydown|keyup|keypress|"
            r"input|toggle|begin|end|animationstart|animationend|transitionend|pointerover|"
            r"pointerdown|wheel|contextmenu|drag\w*|drop|copy|cut|paste|resize|scroll|unload|"
            r"beforeunload|message|hashchange|pageshow|popstate|select|search|invalid|reset|"
            r"play|playing|canplay|loadstart|afterprint|beforeprint|auxclick)\s*=\s*['\"`]?\s*"
            r"(?:[\w.$\[\]]+\s*\(|[\w.$]+\s*(?:=|`)|javascript:)"
        ),
        "dangerous_tag": (
            r"(?i)<\s*(?:iframe|frame|frameset|object|embed|applet)\b|"
            r"<\s*base\b[^>]*\bhref\s*=|<\s*meta\b[^>]*\bhttp-equiv\s*=\s*['\"]?refresh|"
            r"<\s*form\b[^>]*\baction\s*=\s*['\"]?\s*(?:javascript:|https?://)|"
            r"<\s*[a-z][\w:-]*\b[^>]*[\s/'\"]on[a-z]{3,}\s*="
        ),
        "script_uri": (
            r"(?i)\bj[\t\r\n]*a[\t\r\n]*v[\t\r\n]*a[\t\r\n]*s[\t\r\n]*c[\t\r\n]*r[\t\r\n]*i[\t\r\n]*"
            r"p[\t\r\n]*t[\t\r\n]*:[\t\r\n]*[\w$/%(\[{'\"]|\b(?:vb|live)script:\s*\S|"
            r"\bdata:\s*(?:text/html|text/javascript|application/(?:x-)?javascript|"
            r"image/svg\+xml|text/xml)\b"
        ),
        "script_call": (
            r"(?i)\b(?:alert|prompt|confirm)(?:\s*\(\s*['\"`]|\(\s*(?:\d|document\b|window\b|"
            r"string\.fromcharcode|\))|`)|\beval\s*\(\s*(?:['\"`]|atob|unescape|string\.|"
            r"decodeuri|location|name\b)|"
            r"\bdocument\.(?:cookie|write(?:ln)?\s*\(|domain\b|location\s*=)|"
            r"\bwindow\.location\s*=|\.innerhtml\s*=|\bstring\.fromcharcode\s*\(|"
            r"\b(?:settimeout|setinterval)\s*\(\s*['\"`]|\bnew\s+function\s*\(\s*['\"`]"
        ),
        "css_expression": (
            r"(?i)\bexpression\s*\(\s*[\w.$]+\s*\(|-moz-binding\s*:|"
            r"url\s*\(\s*['\"]?\s*(?:javascript|vbscript):|@import\s+['\"]?\s*javascript:"
        ),
    },
}
TYPES: tuple[str, ...] = tuple(PATTERNS)
RULES: tuple[Rule, ...] = tuple(
    Rule(kind, f"{kind}.{name}", pattern)
    for kind, patterns in PATTERNS.items()
    for name, pattern in patterns.items()
)
