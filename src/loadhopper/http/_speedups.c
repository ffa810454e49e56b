/* The response reader's fast path: one whole, plainly framed HTTP/1.1 response in one read.
 *
 * Theory of operation. Nearly every response a load test reads is small, arrives in one
 * socket read, and is framed by a Content-Length. For that case `parse_complete` builds the
 * `RawResponse` (see _protocol.py) directly from the bytes, with no parser callbacks into
 * Python: llhttp through httptools calls a Python method per header, which on a `GET /` costs
 * more than everything else the reader does. Whatever it does not recognise as that plain
 * case, it declines (returns None) without looking further, and the caller feeds the same
 * bytes to llhttp as before: an incomplete response, a chunked or close-delimited body, a
 * status without a body (1xx, 204, 304), anything after the body, a Connection header other
 * than a bare `close` or `keep-alive`, an odd byte anywhere, too many headers or too many
 * header bytes. So every error message, bound and framing rule stays where it is tested
 * (llhttp and ResponseReader); this file only has to agree with them on what it accepts,
 * which tests/http/test_speedups.py checks against llhttp on generated responses.
 *
 * What it accepts, byte for byte:
 *   status line  "HTTP/1.1 " or "HTTP/1.0 ", three digits (200-599 but 204 and 304), then
 *                CRLF, or SP and a reason of HTAB and visible ASCII, then CRLF;
 *   header line  a token name, ":", optional SP/HTAB, a value of HTAB and visible ASCII (the
 *                leading SP/HTAB dropped, the rest kept, as llhttp hands it over), CRLF;
 *   then         CRLF and exactly Content-Length bytes of body.
 *
 * The pure-Python reader is the fallback: without a compiler this module is simply absent,
 * and LOADHOPPER_PURE_PYTHON=1 makes _protocol.py ignore it (the tests run both).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

static PyObject *raw_response_type = NULL; /* RawResponse, set by configure() */

/* RFC 9110 tchar: the bytes of a header name. */
static unsigned char tchar[256];
/* HTAB, SP and visible ASCII: the bytes accepted in a value or a reason phrase. */
static unsigned char vchar[256];

static void init_tables(void) {
    const char *extra = "!#$%&'*+-.^_`|~";
    for (int c = 0; c < 256; c++) {
        tchar[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        vchar[c] = c == '\t' || (c >= 0x20 && c <= 0x7e);
    }
    for (const char *p = extra; *p; p++) {
        tchar[(unsigned char)*p] = 1;
    }
}

/* Whether name[0:len] equals `lower` (lower-case ASCII) ignoring case. */
static int name_is(const char *name, Py_ssize_t len, const char *lower, Py_ssize_t lower_len) {
    if (len != lower_len) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c + 32);
        }
        if (c != lower[i]) {
            return 0;
        }
    }
    return 1;
}

/* The length of value[0:len] without its trailing SP/HTAB. */
static Py_ssize_t trimmed(const char *value, Py_ssize_t len) {
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t')) {
        len--;
    }
    return len;
}

#define DECLINE 0
#define ACCEPT 1
#define FAILED (-1)

typedef struct {
    PyObject *headers;          /* list of (name, value) bytes pairs */
    PyObject *content_encoding; /* bytes or NULL */
    PyObject *set_cookies;      /* list or NULL */
    PyObject *location;         /* bytes or NULL */
    long long content_length;   /* -1 until seen */
    int connection;             /* 0 none, 1 close, 2 keep-alive */
} Head;

static void head_clear(Head *h) {
    Py_XDECREF(h->headers);
    Py_XDECREF(h->content_encoding);
    Py_XDECREF(h->set_cookies);
    Py_XDECREF(h->location);
}

/* Note one header the client acts on. Returns ACCEPT, DECLINE or FAILED (an exception). */
static int pick(Head *h, const char *name, Py_ssize_t nlen, const char *value, Py_ssize_t vlen,
                PyObject *value_obj) {
    switch (nlen) {
    case 8:
        if (name_is(name, nlen, "location", 8)) {
            if (h->location != NULL) {
                Py_DECREF(h->location); /* the last one wins, as in the Python reader */
            }
            Py_INCREF(value_obj);
            h->location = value_obj;
        }
        return ACCEPT;
    case 10:
        if (name_is(name, nlen, "set-cookie", 10)) {
            if (h->set_cookies == NULL) {
                h->set_cookies = PyList_New(0);
                if (h->set_cookies == NULL) {
                    return FAILED;
                }
            }
            return PyList_Append(h->set_cookies, value_obj) == 0 ? ACCEPT : FAILED;
        }
        if (name_is(name, nlen, "connection", 10)) {
            Py_ssize_t len = trimmed(value, vlen);
            if (h->connection != 0) {
                return DECLINE; /* two Connection headers: llhttp decides */
            }
            if (name_is(value, len, "close", 5)) {
                h->connection = 1;
            } else if (name_is(value, len, "keep-alive", 10)) {
                h->connection = 2;
            } else {
                return DECLINE; /* a list, upgrade, ...: llhttp decides */
            }
        }
        return ACCEPT;
    case 14: {
        if (!name_is(name, nlen, "content-length", 14)) {
            return ACCEPT;
        }
        Py_ssize_t len = trimmed(value, vlen);
        long long n = 0;
        if (h->content_length >= 0 || len == 0 || len > 15) {
            return DECLINE; /* repeated, empty, or too long to be a body read at once */
        }
        for (Py_ssize_t i = 0; i < len; i++) {
            if (value[i] < '0' || value[i] > '9') {
                return DECLINE;
            }
            n = n * 10 + (value[i] - '0');
        }
        h->content_length = n;
        return ACCEPT;
    }
    case 16:
        if (name_is(name, nlen, "proxy-connection", 16)) {
            return DECLINE; /* llhttp reads it as Connection too */
        }
        if (name_is(name, nlen, "content-encoding", 16)) {
            /* value.strip().lower(): leading SP/HTAB are already gone */
            Py_ssize_t len = trimmed(value, vlen);
            PyObject *lowered = PyBytes_FromStringAndSize(value, len);
            if (lowered == NULL) {
                return FAILED;
            }
            char *p = PyBytes_AS_STRING(lowered);
            for (Py_ssize_t i = 0; i < len; i++) {
                if (p[i] >= 'A' && p[i] <= 'Z') {
                    p[i] = (char)(p[i] + 32);
                }
            }
            Py_XSETREF(h->content_encoding, lowered);
        }
        return ACCEPT;
    case 17:
        return name_is(name, nlen, "transfer-encoding", 17) ? DECLINE : ACCEPT;
    default:
        return ACCEPT;
    }
}

/* parse_complete(data, max_body, max_header_bytes, max_headers) -> RawResponse | None */
static PyObject *parse_complete(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 4 || !PyBytes_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError,
                        "parse_complete(data: bytes, max_body, max_header_bytes, max_headers)");
        return NULL;
    }
    if (raw_response_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "configure() was not called");
        return NULL;
    }
    long long max_body = PyLong_AsLongLong(args[1]);
    Py_ssize_t max_header_bytes = PyLong_AsSsize_t(args[2]);
    Py_ssize_t max_headers = PyLong_AsSsize_t(args[3]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    const char *data = PyBytes_AS_STRING(args[0]);
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]);
    const char *end = data + size;

    /* Status line. */
    if (size < 17 || memcmp(data, "HTTP/1.", 7) != 0 || (data[7] != '1' && data[7] != '0') ||
        data[8] != ' ') {
        Py_RETURN_NONE;
    }
    int http10 = data[7] == '0';
    const char *p = data + 9;
    if (p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9') {
        Py_RETURN_NONE;
    }
    int status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    if (status == 204 || status == 304) {
        Py_RETURN_NONE;
    }
    p += 3;
    const char *reason = p;
    Py_ssize_t reason_len = 0;
    if (*p == ' ') {
        reason = ++p;
        while (p < end && vchar[(unsigned char)*p]) {
            p++;
        }
        reason_len = p - reason;
    }
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
        Py_RETURN_NONE;
    }
    p += 2;

    Head h = {NULL, NULL, NULL, NULL, -1, 0};
    h.headers = PyList_New(0);
    if (h.headers == NULL) {
        return NULL;
    }
    /* Header lines, up to the blank line. */
    for (;;) {
        if (end - p < 2) {
            goto decline;
        }
        if (p[0] == '\r') {
            if (p[1] != '\n') {
                goto decline;
            }
            p += 2;
            break;
        }
        const char *name = p;
        while (p < end && tchar[(unsigned char)*p]) {
            p++;
        }
        Py_ssize_t nlen = p - name;
        if (nlen == 0 || p >= end || *p != ':') {
            goto decline;
        }
        p++;
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
        const char *value = p;
        while (p < end && vchar[(unsigned char)*p]) {
            p++;
        }
        Py_ssize_t vlen = p - value;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            goto decline;
        }
        p += 2;
        if (PyList_GET_SIZE(h.headers) >= max_headers) {
            goto decline;
        }
        PyObject *pair = PyTuple_New(2);
        if (pair == NULL) {
            goto failed;
        }
        PyObject *name_obj = PyBytes_FromStringAndSize(name, nlen);
        PyObject *value_obj = PyBytes_FromStringAndSize(value, vlen);
        if (name_obj == NULL || value_obj == NULL) {
            Py_XDECREF(name_obj);
            Py_XDECREF(value_obj);
            Py_DECREF(pair);
            goto failed;
        }
        PyTuple_SET_ITEM(pair, 0, name_obj);
        PyTuple_SET_ITEM(pair, 1, value_obj);
        int appended = PyList_Append(h.headers, pair);
        Py_DECREF(pair);
        if (appended != 0) {
            goto failed;
        }
        int picked = pick(&h, name, nlen, value, vlen, value_obj);
        if (picked == FAILED) {
            goto failed;
        }
        if (picked == DECLINE) {
            goto decline;
        }
    }
    if (p - data > max_header_bytes || h.content_length < 0 || h.content_length > max_body ||
        end - p != h.content_length) {
        goto decline;
    }
    int keep_alive = http10 ? h.connection == 2 : h.connection != 1;

    PyObject *reason_obj = PyBytes_FromStringAndSize(reason, reason_len);
    PyObject *body = PyBytes_FromStringAndSize(p, end - p);
    PyObject *status_obj = PyLong_FromLong(status);
    PyObject *raw = ((PyTypeObject *)raw_response_type)
                        ->tp_alloc((PyTypeObject *)raw_response_type, 8);
    if (reason_obj == NULL || body == NULL || status_obj == NULL || raw == NULL) {
        Py_XDECREF(reason_obj);
        Py_XDECREF(body);
        Py_XDECREF(status_obj);
        Py_XDECREF(raw);
        goto failed;
    }
    PyTuple_SET_ITEM(raw, 0, status_obj);
    PyTuple_SET_ITEM(raw, 1, reason_obj);
    PyTuple_SET_ITEM(raw, 2, h.headers);
    PyTuple_SET_ITEM(raw, 3, body);
    PyObject *alive = keep_alive ? Py_True : Py_False;
    Py_INCREF(alive);
    PyTuple_SET_ITEM(raw, 4, alive);
    PyTuple_SET_ITEM(raw, 5, h.content_encoding ? h.content_encoding : Py_NewRef(Py_None));
    PyTuple_SET_ITEM(raw, 6, h.set_cookies ? h.set_cookies : Py_NewRef(Py_None));
    PyTuple_SET_ITEM(raw, 7, h.location ? h.location : Py_NewRef(Py_None));
    return raw; /* the tuple owns the Head's references now */

decline:
    head_clear(&h);
    Py_RETURN_NONE;
failed:
    head_clear(&h);
    return NULL;
}

/* configure(RawResponse): the tuple subclass parse_complete builds. */
static PyObject *configure(PyObject *module, PyObject *type) {
    (void)module;
    if (!PyType_Check(type) || !PyType_IsSubtype((PyTypeObject *)type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "configure() takes a tuple subclass");
        return NULL;
    }
    Py_INCREF(type);
    Py_XSETREF(raw_response_type, type);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"parse_complete", (PyCFunction)(void (*)(void))parse_complete, METH_FASTCALL,
     "parse_complete(data, max_body, max_header_bytes, max_headers): the RawResponse of one "
     "whole, plainly framed response, or None to let llhttp read it."},
    {"configure", configure, METH_O, "configure(RawResponse): the type parse_complete builds."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "loadhopper.http._speedups",
    "The response reader's fast path (see _speedups.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    init_tables();
    return PyModule_Create(&module_def);
}
