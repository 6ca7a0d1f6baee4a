/* A stand-in for Windows' bcryptprimitives.dll, for `make check-windows` under Wine 8, which
 * lacks it. Rust's standard library (1.78 and later) asks it for ProcessPrng, the system's
 * random-number generator, at startup (HashMap seeds). This one function answers from
 * RtlGenRandom (advapi32's SystemFunction036), which Wine has. Never shipped to real Windows,
 * where the real DLL exists. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
