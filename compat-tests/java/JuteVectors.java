// JuteVectors is zkgo's Java-side witness for the Jute codec. It is compiled
// at test time against ZooKeeper's own jars (zookeeper-jute.jar and
// zookeeper.jar) and used by compat-tests/jute_test.go:
//
//   describe <jar>   list every Jute record class in the jar with its fields
//   gen <seed> <n>   write test vectors: "<class> <hex>" per line
//   roundtrip        read "<class> <hex>" lines on stdin; deserialize with
//                    Java, check all bytes were used, serialize again, and
//                    print "OK <hex>" or "ERR <message>" per line
//
// Besides plain records, three framings Java builds by hand are covered under
// pseudo class names: MULTIREQ (MultiOperationRecord), MULTIRESP
// (MultiResponse), CONNECT_RO (ConnectRequest + trailing readOnly boolean) and
// FLE (FastLeaderElection.buildMsg).

import java.io.*;
import java.lang.reflect.*;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.*;
import java.util.jar.*;

import org.apache.jute.*;
import org.apache.jute.Record;
import org.apache.zookeeper.*;
import org.apache.zookeeper.data.*;
import org.apache.zookeeper.proto.*;

public class JuteVectors {
    static final String[] PACKAGES = {
        "org/apache/zookeeper/data/", "org/apache/zookeeper/proto/", "org/apache/zookeeper/txn/",
        "org/apache/zookeeper/server/quorum/", "org/apache/zookeeper/server/persistence/"
    };

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "describe": describe(args[1]); break;
            case "gen": gen(Long.parseLong(args[1]), Integer.parseInt(args[2])); break;
            case "roundtrip": roundtrip(); break;
            default: throw new IllegalArgumentException(args[0]);
        }
    }

    // ---- describe ----

    static List<Class<?>> recordClasses(String jar) throws Exception {
        List<Class<?>> out = new ArrayList<>();
        try (JarFile jf = new JarFile(jar)) {
            for (Enumeration<JarEntry> e = jf.entries(); e.hasMoreElements(); ) {
                String n = e.nextElement().getName();
                if (!n.endsWith(".class") || n.contains("$")) continue;
                boolean ok = false;
                for (String p : PACKAGES) {
                    if (n.startsWith(p) && n.indexOf('/', p.length()) < 0) ok = true;
                }
                if (!ok) continue;
                Class<?> c = Class.forName(n.substring(0, n.length() - 6).replace('/', '.'));
                if (Record.class.isAssignableFrom(c) && !c.isInterface() && !Modifier.isAbstract(c.getModifiers())) {
                    out.add(c);
                }
            }
        }
        out.sort(Comparator.comparing(Class::getName));
        return out;
    }

    static List<Field> fields(Class<?> c) {
        List<Field> out = new ArrayList<>();
        for (Field f : c.getDeclaredFields()) {
            if (Modifier.isStatic(f.getModifiers())) continue;
            f.setAccessible(true);
            out.add(f);
        }
        return out;
    }

    static String juteType(Type t) {
        if (t == int.class) return "int";
        if (t == long.class) return "long";
        if (t == boolean.class) return "boolean";
        if (t == byte.class) return "byte";
        if (t == float.class) return "float";
        if (t == double.class) return "double";
        if (t == String.class) return "ustring";
        if (t == byte[].class) return "buffer";
        if (t instanceof ParameterizedType) {
            ParameterizedType p = (ParameterizedType) t;
            if (p.getRawType() == List.class) return "vector<" + juteType(p.getActualTypeArguments()[0]) + ">";
            if (p.getRawType() == Map.class || p.getRawType() == TreeMap.class) {
                return "map<" + juteType(p.getActualTypeArguments()[0]) + "," + juteType(p.getActualTypeArguments()[1]) + ">";
            }
        }
        if (t instanceof Class && Record.class.isAssignableFrom((Class<?>) t)) return ((Class<?>) t).getName();
        return "?" + t.getTypeName();
    }

    static void describe(String jar) throws Exception {
        PrintStream out = new PrintStream(new BufferedOutputStream(System.out), false, "UTF-8");
        for (Class<?> c : recordClasses(jar)) {
            out.println("class " + c.getName());
            for (Field f : fields(c)) out.println("field " + f.getName() + " " + juteType(f.getGenericType()));
        }
        out.flush();
    }

    // ---- gen ----

    static final int NULLS = 0, EMPTY = 1, MAX = 2, MIN = 3, RANDOM = 4, BIG = 5;
    static final String CHARS = "azAZ09/._-~ \u00e9\u00fc\u00df\u4e2d\u6587\u65e5\ud55c\u0100\u07ff\u0800\uffef\u0000";
    static final String SUPPLEMENTARY = "\ud83d\ude00"; // U+1F600, a surrogate pair

    static String str(Random r, int mode) {
        switch (mode) {
            case NULLS: return null;
            case EMPTY: return "";
            case MAX: return repeat("\u4e2d", 1000);
            case BIG: return repeat("\u00e9", 40000);
        }
        StringBuilder b = new StringBuilder();
        int n = r.nextInt(12);
        for (int i = 0; i < n; i++) b.append(CHARS.charAt(r.nextInt(CHARS.length())));
        if (r.nextInt(10) == 0) b.append(SUPPLEMENTARY);
        return b.toString();
    }

    static String repeat(String s, int n) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) b.append(s);
        return b.toString();
    }

    static byte[] buf(Random r, int mode) {
        switch (mode) {
            case NULLS: return null;
            case EMPTY: return new byte[0];
            case MAX: { byte[] b = new byte[4096]; Arrays.fill(b, (byte) 0xff); return b; }
            case BIG: { byte[] b = new byte[200000]; r.nextBytes(b); return b; }
        }
        byte[] b = new byte[r.nextInt(40)];
        r.nextBytes(b);
        return b;
    }

    static Object value(Type t, Random r, int mode, int depth) throws Exception {
        if (t == int.class) return mode == MAX ? Integer.MAX_VALUE : mode == MIN ? Integer.MIN_VALUE : mode == RANDOM ? r.nextInt() : mode == BIG ? -1 : 0;
        if (t == long.class) return mode == MAX ? Long.MAX_VALUE : mode == MIN ? Long.MIN_VALUE : mode == RANDOM ? r.nextLong() : mode == BIG ? -1L : 0L;
        if (t == boolean.class) return mode == MAX || (mode == RANDOM && r.nextBoolean());
        if (t == byte.class) return (byte) (mode == MAX ? 127 : mode == MIN ? -128 : r.nextInt());
        if (t == float.class) return (float) r.nextGaussian();
        if (t == double.class) return r.nextGaussian();
        if (t == String.class) return str(r, mode);
        if (t == byte[].class) return buf(r, mode);
        if (t instanceof ParameterizedType) {
            ParameterizedType p = (ParameterizedType) t;
            if (mode == NULLS) return null;
            List<Object> l = new ArrayList<>();
            if (mode == EMPTY) return l;
            int n = mode == MAX || mode == BIG ? 3 : 1 + r.nextInt(4);
            if (depth > 3) n = 1;
            for (int i = 0; i < n; i++) {
                // Elements are never null: Java's own writers never produce null elements.
                int em = mode == MAX || mode == MIN ? mode : RANDOM;
                Object v = value(p.getActualTypeArguments()[0], r, em, depth + 1);
                if (v == null) v = "";
                l.add(v);
            }
            return l;
        }
        if (t instanceof Class && Record.class.isAssignableFrom((Class<?>) t)) {
            return fill((Class<?>) t, r, mode, depth + 1);
        }
        throw new IllegalArgumentException("unsupported field type " + t);
    }

    static Object fill(Class<?> c, Random r, int mode, int depth) throws Exception {
        Object o = c.getDeclaredConstructor().newInstance();
        for (Field f : fields(c)) {
            int m = mode;
            if (mode == RANDOM && r.nextInt(8) == 0) m = r.nextBoolean() ? NULLS : EMPTY;
            if (f.getType().isPrimitive() && (m == NULLS || m == EMPTY)) m = RANDOM;
            f.set(o, value(f.getGenericType(), r, m, depth));
        }
        return o;
    }

    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder(b.length * 2);
        for (byte x : b) s.append(Character.forDigit((x >> 4) & 0xf, 16)).append(Character.forDigit(x & 0xf, 16));
        return s.toString();
    }

    static byte[] unhex(String s) {
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++) b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        return b;
    }

    static byte[] ser(Record rec) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        rec.serialize(BinaryOutputArchive.getArchive(bos), "r");
        return bos.toByteArray();
    }

    static List<ACL> randomACL(Random r) {
        List<ACL> l = new ArrayList<>();
        int n = r.nextInt(3);
        for (int i = 0; i < n; i++) l.add(new ACL(r.nextInt(32), new Id(str(r, RANDOM), str(r, RANDOM))));
        return l;
    }

    static void gen(long seed, int n) throws Exception {
        Random r = new Random(seed);
        PrintStream out = new PrintStream(new BufferedOutputStream(System.out, 1 << 20), false, "UTF-8");
        for (Class<?> c : recordClasses(System.getProperty("jute.jar"))) {
            int[] modes = {NULLS, EMPTY, MAX, MIN, BIG};
            for (int m : modes) out.println(c.getName() + " " + hex(ser((Record) fill(c, r, m, 0))));
            for (int i = 0; i < n; i++) out.println(c.getName() + " " + hex(ser((Record) fill(c, r, RANDOM, 0))));
        }
        // Buffers at exactly jute.maxbuffer.
        byte[] max = new byte[0xfffff];
        r.nextBytes(max);
        out.println(GetDataResponse.class.getName() + " " + hex(ser(new GetDataResponse(max, new Stat()))));
        out.println(SetDataRequest.class.getName() + " " + hex(ser(new SetDataRequest("/big", max, -1))));
        out.println("org.apache.zookeeper.server.quorum.QuorumPacket " + hex(ser(
            new org.apache.zookeeper.server.quorum.QuorumPacket(2, 1L, max, null))));

        for (int i = 0; i < n; i++) {
            List<Op> ops = new ArrayList<>();
            int k = r.nextInt(6);
            for (int j = 0; j < k; j++) {
                switch (r.nextInt(7)) {
                    case 0: ops.add(Op.create("/" + str(r, RANDOM), buf(r, RANDOM), randomACL(r), r.nextInt(3))); break;
                    case 1: ops.add(Op.create("/t" + j, buf(r, RANDOM), randomACL(r), CreateMode.PERSISTENT_WITH_TTL, 1 + r.nextInt(1000))); break;
                    case 2: ops.add(Op.create("/c" + j, buf(r, RANDOM), randomACL(r), CreateMode.CONTAINER)); break;
                    case 3: ops.add(Op.delete("/d" + j, r.nextInt())); break;
                    case 4: ops.add(Op.setData("/s" + j, buf(r, RANDOM), r.nextInt())); break;
                    case 5: ops.add(Op.check("/k" + j, r.nextInt())); break;
                    default: ops.add(Op.create("/p" + j, null, randomACL(r), CreateMode.EPHEMERAL_SEQUENTIAL)); break;
                }
            }
            out.println("MULTIREQ " + hex(ser(new MultiOperationRecord(ops))));
            List<Op> reads = new ArrayList<>();
            for (int j = 0; j < k; j++) reads.add(j % 2 == 0 ? Op.getChildren("/r" + j) : Op.getData("/r" + j));
            out.println("MULTIREQ " + hex(ser(new MultiOperationRecord(reads))));

            MultiResponse resp = new MultiResponse();
            for (int j = 0; j < k; j++) {
                Stat st = (Stat) fill(Stat.class, r, RANDOM, 0);
                switch (r.nextInt(8)) {
                    case 0: resp.add(new OpResult.CreateResult("/x" + j)); break;
                    case 1: resp.add(new OpResult.CreateResult("/y" + j, st)); break;
                    case 2: resp.add(new OpResult.DeleteResult()); break;
                    case 3: resp.add(new OpResult.SetDataResult(st)); break;
                    case 4: resp.add(new OpResult.CheckResult()); break;
                    case 5: resp.add(new OpResult.ErrorResult(KeeperException.Code.NONODE.intValue())); break;
                    case 6: resp.add(new OpResult.GetChildrenResult(Arrays.asList("a", "b" + j))); break;
                    default: resp.add(new OpResult.GetDataResult(buf(r, RANDOM), st)); break;
                }
            }
            out.println("MULTIRESP " + hex(ser(resp)));

            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            BinaryOutputArchive boa = BinaryOutputArchive.getArchive(bos);
            ConnectRequest cr = new ConnectRequest(0, r.nextLong(), r.nextInt(100000), r.nextLong(), buf(r, RANDOM));
            cr.serialize(boa, "connect");
            boa.writeBool(r.nextBoolean(), "readOnly");
            out.println("CONNECT_RO " + hex(bos.toByteArray()));

            Method bm = Class.forName("org.apache.zookeeper.server.quorum.FastLeaderElection")
                .getDeclaredMethod("buildMsg", int.class, long.class, long.class, long.class, long.class, byte[].class);
            bm.setAccessible(true);
            byte[] cfg = ("server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\nversion=" + Long.toHexString(r.nextLong())).getBytes(StandardCharsets.UTF_8);
            ByteBuffer msg = (ByteBuffer) bm.invoke(null, r.nextInt(4), r.nextLong(), r.nextLong(), r.nextLong(), r.nextLong(), cfg);
            out.println("FLE " + hex(Arrays.copyOf(msg.array(), msg.limit())));
        }
        out.flush();
    }

    // ---- roundtrip ----

    static void roundtrip() throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 20);
        PrintStream out = new PrintStream(new BufferedOutputStream(System.out, 1 << 20), false, "UTF-8");
        String line;
        while ((line = in.readLine()) != null) {
            int sp = line.indexOf(' ');
            String cls = line.substring(0, sp);
            byte[] b = unhex(line.substring(sp + 1));
            try {
                ByteArrayInputStream bis = new ByteArrayInputStream(b);
                BinaryInputArchive bia = BinaryInputArchive.getArchive(bis);
                Record rec;
                boolean readOnly = false;
                switch (cls) {
                    case "MULTIREQ": rec = new MultiOperationRecord(); break;
                    case "MULTIRESP": rec = new MultiResponse(); break;
                    case "CONNECT_RO": rec = new ConnectRequest(); break;
                    default: rec = (Record) Class.forName(cls).getDeclaredConstructor().newInstance();
                }
                rec.deserialize(bia, "r");
                if (cls.equals("CONNECT_RO")) readOnly = bia.readBool("readOnly");
                if (bis.available() != 0) {
                    out.println("ERR " + bis.available() + " bytes left after " + cls);
                    continue;
                }
                ByteArrayOutputStream bos = new ByteArrayOutputStream();
                BinaryOutputArchive boa = BinaryOutputArchive.getArchive(bos);
                rec.serialize(boa, "r");
                if (cls.equals("CONNECT_RO")) boa.writeBool(readOnly, "readOnly");
                out.println("OK " + hex(bos.toByteArray()));
            } catch (Exception e) {
                out.println("ERR " + e);
            }
        }
        out.flush();
    }
}
