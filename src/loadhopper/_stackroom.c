/* Room on the C stack below a greenlet's start, so that resuming it copies nothing of the loop's.
 *
 * Theory of operation. greenlet runs every greenlet of a thread on the thread's one C stack:
 * a greenlet's frames live just below the point where it was first switched into (its
 * "stack stop"), and a switch copies out, into the heap, whatever the greenlet switching away
 * has *below* that point of the target's, then copies the target's own saved frames back in.
 * The bridge's workers (_bridge.py) are resumed by the loop's greenlet from a protocol
 * callback, deep in uvloop's C frames; they were first started from a Task step, higher up.
 * Measured on Python 3.11 with uvloop, every response copied 14.6 KB of the loop's stack out
 * and back in, on top of the worker's own 2 KB: a third of the instructions per request of
 * a `GET /` loop.
 *
 * `call_below(room, fn, *args)` calls `fn(*args)` with `room` bytes of unused stack reserved
 * beneath the caller. A worker first switched into from there has its stack stop that far
 * below the loop's frames, so the loop's greenlet, switching to it from any callback less
 * deep than that, has nothing of its own there to save. The reserved bytes are never
 * written, so they cost address space only, not memory. greenlet stays correct wherever
 * the stops are: this changes how much a switch copies, never what it does.
 *
 * Without a compiler this module is absent, and LOADHOPPER_PURE_PYTHON=1 makes the bridge
 * ignore it: workers then start where they are first switched into, as greenlet does.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <alloca.h>

/* More than any thread's stack could spare: a caller's mistake, not a request for room. */
#define MAX_ROOM (1 << 20)

static PyObject *call_below(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs < 2) {
        PyErr_SetString(PyExc_TypeError, "call_below() takes a room in bytes and a callable");
        return NULL;
    }
    Py_ssize_t room = PyLong_AsSsize_t(args[0]);
    if (room == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (room < 0 || room > MAX_ROOM) {
        PyErr_Format(PyExc_ValueError, "call_below() room must be 0 to %d bytes, not %zd",
                     MAX_ROOM, room);
        return NULL;
    }
    /* Volatile, and touched again after the call: the compiler may neither drop the
     * reservation nor turn the call into a tail call that would give the room back first. */
    volatile char *pad = alloca((size_t)room + 1);
    pad[room] = 0;
    PyObject *result = PyObject_Vectorcall(args[1], args + 2, (size_t)(nargs - 2), NULL);
    pad[room] = 0;
    return result;
}

static PyMethodDef methods[] = {
    {"call_below", (PyCFunction)(void (*)(void))call_below, METH_FASTCALL,
     "call_below(room, fn, *args): fn(*args), with room bytes of stack reserved beneath."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "loadhopper._stackroom",
    "Room on the C stack below a greenlet's start (see _stackroom.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__stackroom(void) { return PyModule_Create(&module_def); }
